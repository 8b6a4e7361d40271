"""Identifiers with real check characters: national IDs, credit codes, names, unit numbers.

ID numbers follow GB 11643-1999 (ISO 7064 MOD 11-2 check character); unified social
credit codes follow GB 32100-2015 with an embedded GB 11714 organisation code. The
generator computes these itself so that the tests can check them against the node's
independent validator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

__all__ = [
    "bad_checksum_id", "bad_date_id", "bank_hash", "chinese_name", "id_check_char", "legacy_id",
    "make_id", "org_code", "unit_no", "uscc",
]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# The most common surnames, roughly in order of frequency, and given-name characters.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
             "于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊"
             "秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
_GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林欣峰建国志东海文博晨阳"
_GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀燕玲桂英华红梅琳雪倩婷慧颖莉兰萍洁丹蓉晶怡佳欣悦琪瑶璐雯"


def id_check_char(first17: str) -> str:
    """The MOD 11-2 check character of 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def make_id(area: str, birth: dt.date, seq: int) -> str:
    """An 18-character ID: area code, birth date, 3-digit sequence (odd = male), check."""
    first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def legacy_id(id18: str) -> str:
    """The 15-digit legacy form of an ID of someone born in the 1900s."""
    return id18[:6] + id18[8:17]


def bad_checksum_id(id18: str) -> str:
    """The ID with a wrong check character (a typing error in a real export)."""
    good = id18[17]
    return id18[:17] + next(c for c in "0123456789X" if c != good)


def bad_date_id(id18: str, rng: random.Random) -> str:
    """The ID with an impossible birth date (day 30/31 of February or month 13) and a
    correct check character, so only the date check catches it."""
    year = id18[6:10]
    fake = rng.choice(("0230", "0231", "1301", "0229" if int(year) % 4 else "0230"))
    first17 = id18[:10] + fake + id18[14:17]
    return first17 + id_check_char(first17)


def org_code(body8: str) -> str:
    """A GB 11714 organisation code: 8 digits and their check character."""
    total = sum(int(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body8 + ("X" if check == 10 else "0" if check == 11 else str(check))


def uscc(kind: str, area: str, serial: int) -> str:
    """A GB 32100 unified social credit code.

    kind is the 2-character registration-department and institution-category prefix
    (91 enterprise, 92 individual business, 93 farmers' cooperative); area the 6-digit
    registration area; serial makes the embedded organisation code unique.
    """
    first17 = kind + area + org_code(f"{serial % 100_000_000:08d}")
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return first17 + _USCC_CHARS[(31 - total % 31) % 31]


def chinese_name(rng: random.Random, male: bool) -> str:
    """A synthetic two- or three-character Chinese name."""
    given = _GIVEN_MALE if male else _GIVEN_FEMALE
    # Weights favour the frequent surnames at the front of the list.
    surname = _SURNAMES[min(int(rng.expovariate(1 / 18)), len(_SURNAMES) - 1)]
    n = 1 if rng.random() < 0.3 else 2
    return surname + "".join(rng.choice(given) for _ in range(n))


def unit_no(county: str, serial: int) -> str:
    """A 28-character 不动产单元号: county, cadastral zone, parcel GB, parcel, building F."""
    zone = f"{serial % 7 + 1:03d}{serial % 13 + 1:03d}"
    return f"{county}{zone}GB{serial // 10 % 100_000:05d}F{serial % 100_000_000:08d}"


def bank_hash(text: str) -> str:
    """A stable 32-hex-character stand-in for a hashed bank account number."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]
