"""The 31 provinces of the generator: census population, real GB/T 2260 areas, price levels.

Population is the 2020 census count in 10,000s (reference §4.1). The economic levels
(pension and wage multipliers, the resident basic pension, the 低保 standards, the rural
share) are approximations in the ranges of reference §4.3 [A]; they only shape the
synthetic magnitudes and are not official figures.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PROVINCES", "Province", "by_population", "province"]


@dataclass(frozen=True)
class Province:
    """One province: its codes, census population and the levels that shape amounts."""

    code2: str
    #: Node id: the ISO 3166-2:CN letters, lower-cased (gd = 广东).
    abbr: str
    name_zh: str
    name_en: str
    #: 2020 census resident population, in 10,000 persons.
    population_wan: float
    #: Multiplier on the national median enterprise pension (reference §4.3: 0.85–1.5).
    pension_factor: float
    #: Multiplier on the national average monthly wage (contribution base, payroll).
    wage_factor: float
    #: Monthly resident basic pension (基础养老金) in 2023, yuan.
    resident_base: int
    #: Monthly 低保 standard per person, urban and rural, yuan.
    dibao_urban: int
    dibao_rural: int
    #: Share of persons with an agricultural hukou.
    rural_share: float
    #: Real county-level areas (6-digit GB/T 2260) grouped by prefecture (the pools).
    prefectures: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def region(self) -> str:
        """The 6-digit province code, e.g. 440000."""
        return self.code2 + "0000"

    @property
    def counties(self) -> tuple[str, ...]:
        return tuple(c for _, cs in self.prefectures for c in cs)


def _p(code2, abbr, zh, en, pop, pf, wf, res, du, dr, rural, prefs) -> Province:
    return Province(code2, abbr, zh, en, pop, pf, wf, res, du, dr, rural,
                    tuple((p, tuple(cs.split())) for p, cs in prefs))


PROVINCES: tuple[Province, ...] = (
    _p("11", "bj", "北京", "Beijing", 2189.3, 1.5, 2.0, 887, 1395, 1395, 0.12,
       [("110100", "110101 110102 110105 110106 110108")]),
    _p("12", "tj", "天津", "Tianjin", 1386.6, 1.25, 1.4, 307, 1070, 1070, 0.15,
       [("120100", "120101 120102 120103 120104 120105")]),
    _p("13", "he", "河北", "Hebei", 7461.0, 0.9, 0.9, 133, 800, 550, 0.40,
       [("130100", "130102 130104 130105 130108"), ("130200", "130202 130203")]),
    _p("14", "sx", "山西", "Shanxi", 3491.6, 0.95, 0.9, 133, 700, 550, 0.37,
       [("140100", "140105 140106 140107 140108"), ("140200", "140213 140214")]),
    _p("15", "nm", "内蒙古", "Inner Mongolia", 2404.9, 1.0, 1.0, 180, 800, 650, 0.32,
       [("150100", "150102 150103 150104 150105"), ("150200", "150202 150203 150204")]),
    _p("21", "ln", "辽宁", "Liaoning", 4259.1, 0.9, 0.95, 130, 780, 580, 0.28,
       [("210100", "210102 210103 210104 210105 210106"), ("210200", "210202 210203 210204")]),
    _p("22", "jl", "吉林", "Jilin", 2407.4, 0.9, 0.9, 130, 700, 500, 0.37,
       [("220100", "220102 220103 220104 220105"), ("220200", "220202 220203 220204")]),
    _p("23", "hl", "黑龙江", "Heilongjiang", 3185.0, 0.9, 0.85, 130, 700, 500, 0.34,
       [("230100", "230102 230103 230104 230108"), ("230200", "230202 230203")]),
    _p("31", "sh", "上海", "Shanghai", 2487.1, 1.5, 2.0, 1300, 1510, 1510, 0.10,
       [("310100", "310101 310104 310105 310106 310107 310115")]),
    _p("32", "js", "江苏", "Jiangsu", 8474.8, 1.1, 1.3, 187, 900, 900, 0.26,
       [("320100", "320102 320104 320105 320106"), ("320500", "320505 320506 320507 320508")]),
    _p("33", "zj", "浙江", "Zhejiang", 6456.8, 1.15, 1.35, 280, 1100, 1100, 0.28,
       [("330100", "330102 330105 330106 330108"), ("330200", "330203 330205 330212")]),
    _p("34", "ah", "安徽", "Anhui", 6102.7, 0.95, 0.95, 133, 800, 700, 0.41,
       [("340100", "340102 340103 340104 340111"), ("340200", "340202 340207")]),
    _p("35", "fj", "福建", "Fujian", 4154.0, 1.0, 1.1, 160, 850, 800, 0.31,
       [("350100", "350102 350103 350104 350105"), ("350200", "350203 350206")]),
    _p("36", "jx", "江西", "Jiangxi", 4518.9, 0.9, 0.9, 133, 850, 650, 0.38,
       [("360100", "360102 360103 360104 360111"), ("360400", "360402 360403")]),
    _p("37", "sd", "山东", "Shandong", 10152.7, 1.0, 1.0, 175, 900, 700, 0.36,
       [("370100", "370102 370103 370104 370105 370112"),
        ("370200", "370202 370203 370211 370212")]),
    _p("41", "ha", "河南", "Henan", 9936.6, 0.9, 0.85, 133, 700, 500, 0.43,
       [("410100", "410102 410103 410104 410105"), ("410300", "410302 410303 410305 410311")]),
    _p("42", "hb", "湖北", "Hubei", 5775.0, 0.95, 0.95, 133, 800, 600, 0.36,
       [("420100", "420102 420103 420104 420106"), ("420500", "420502 420503")]),
    _p("43", "hn", "湖南", "Hunan", 6644.5, 0.9, 0.9, 133, 700, 500, 0.40,
       [("430100", "430102 430103 430104 430105"), ("430200", "430202 430203 430204")]),
    _p("44", "gd", "广东", "Guangdong", 12601.3, 1.05, 1.3, 238, 1100, 850, 0.25,
       [("440100", "440103 440104 440105 440106 440111"),
        ("440300", "440303 440304 440305 440306 440307")]),
    _p("45", "gx", "广西", "Guangxi", 5012.7, 0.9, 0.85, 133, 850, 550, 0.45,
       [("450100", "450102 450103 450105 450107"), ("450200", "450202 450203")]),
    _p("46", "hi", "海南", "Hainan", 1008.1, 1.0, 1.0, 188, 750, 650, 0.40,
       [("460100", "460105 460106 460107 460108"), ("460200", "460202 460203")]),
    _p("50", "cq", "重庆", "Chongqing", 3205.4, 0.9, 1.0, 135, 750, 600, 0.30,
       [("500100", "500101 500103 500106 500107 500108")]),
    _p("51", "sc", "四川", "Sichuan", 8367.5, 0.9, 0.9, 133, 750, 550, 0.43,
       [("510100", "510104 510105 510106 510107 510108"), ("510700", "510703 510704")]),
    _p("52", "gz", "贵州", "Guizhou", 3856.2, 0.9, 0.9, 133, 750, 500, 0.46,
       [("520100", "520102 520103 520111 520112"), ("520300", "520302 520303")]),
    _p("53", "yn", "云南", "Yunnan", 4720.9, 0.95, 0.9, 133, 750, 500, 0.50,
       [("530100", "530102 530103 530111 530112"), ("530300", "530302")]),
    _p("54", "xz", "西藏", "Tibet", 364.8, 1.5, 1.3, 235, 1000, 550, 0.64,
       [("540100", "540102 540103 540104"), ("540200", "540202")]),
    _p("61", "sn", "陕西", "Shaanxi", 3952.9, 0.95, 0.95, 155, 750, 550, 0.37,
       [("610100", "610102 610103 610104 610111 610113"), ("610300", "610302 610303")]),
    _p("62", "gs", "甘肃", "Gansu", 2502.0, 0.9, 0.85, 133, 750, 500, 0.47,
       [("620100", "620102 620103 620104 620105"), ("620500", "620502 620503")]),
    _p("63", "qh", "青海", "Qinghai", 592.4, 1.1, 1.0, 205, 800, 550, 0.39,
       [("630100", "630102 630103 630104 630105")]),
    _p("64", "nx", "宁夏", "Ningxia", 720.3, 1.0, 0.95, 183, 750, 550, 0.35,
       [("640100", "640104 640105 640106"), ("640200", "640202 640205")]),
    _p("65", "xj", "新疆", "Xinjiang", 2585.2, 1.05, 1.0, 185, 700, 500, 0.43,
       [("650100", "650102 650103 650104 650105"), ("650200", "650202 650203")]),
)


def by_population() -> tuple[Province, ...]:
    """The provinces, most populous first (ties broken by code, so the order is stable)."""
    return tuple(sorted(PROVINCES, key=lambda p: (-p.population_wan, p.code2)))


def province(abbr: str) -> Province:
    """The province whose node id is abbr; raises KeyError if there is none."""
    for p in PROVINCES:
        if p.abbr == abbr:
            return p
    raise KeyError(abbr)
