"""Registry rows for a province's people: deaths, vehicles, real estate and businesses.

Ownership rates are rough national shares [A]: a car for one adult in five, a home for
about two thirds of adults over 28, a business role for about one adult in fourteen.
Members of assistance cases own nothing in the registries unless SA-01 plants it, so
every SA-01 hit and look-alike is a planted one.
"""

from __future__ import annotations

import datetime as dt

from analyses.synth._codes import make_id, unit_no, uscc
from analyses.synth._context import Ctx
from analyses.synth._model import Person

__all__ = ["add_business", "add_house", "add_vehicle", "death_rows", "registry_background"]

_SHOPS = "便利店 餐馆 五金店 理发店 服装店 水果店 修理部 小吃店".split()


def _day_between(rng, lo: dt.date, hi: dt.date) -> dt.date:
    return lo + dt.timedelta(days=rng.randrange(max(1, (hi - lo).days)))


def add_vehicle(ctx: Ctx, rng, p: Person, kind: str = "car", cancelled: bool = False) -> None:
    """Registers a vehicle to p: a car (K33, or new energy), or a motorcycle (M21)."""
    as_of = ctx.window.as_of
    first = _day_between(rng, dt.date(2008, 1, 1), as_of - dt.timedelta(days=60))
    if kind == "motorcycle":
        plate, vtype, value = "07", "M21", rng.randint(3_000, 12_000) * 100
    else:
        plate = "52" if rng.random() < 0.2 else "02"
        vtype, value = rng.choice(("K33", "K33", "K31")), rng.randint(40_000, 300_000) * 100
    cancel = _day_between(rng, first, as_of) if cancelled else None
    ctx.registry["vehicle_registration"].append({
        "vehicle_key": f"{ctx.node.upper()}V{ctx.serial('vehicle'):08d}",
        "owner_id_no": p.id18, "plate_type": plate, "vehicle_type": vtype, "use_nature": "A",
        "first_reg_date": first, "status": "E" if cancelled else "A", "cancel_date": cancel,
        "reg_admdvs": p.county, "est_value": value})


def add_house(ctx: Ctx, rng, p: Person, usage: str = "10", cancelled: bool = False) -> str:
    """Registers a unit to p; returns its 不动产单元号."""
    as_of = ctx.window.as_of
    reg = _day_between(rng, dt.date(2000, 1, 1), as_of - dt.timedelta(days=30))
    unit = unit_no(p.county, ctx.serial("unit") * 37 + int(ctx.prov.code2))
    area = {"10": rng.randint(4_000, 16_000), "20": rng.randint(2_000, 9_000),
            "50": rng.randint(1_200, 1_600)}.get(usage, 5_000)
    ctx.registry["real_estate_right"].append({
        "unit_no": unit, "owner_id_no": p.id18, "share_type": "1",
        "right_type": "20" if p.rural and usage == "10" else "10", "usage": usage,
        "floor_area": area, "reg_date": reg,
        "cancel_date": _day_between(rng, reg, as_of) if cancelled else None,
        "location_admdvs": p.county})
    return unit


def add_business(ctx: Ctx, rng, p: Person | None, entity_type: str = "20", role: str = "03",
                 cancelled: bool = False, name: str | None = None, credit: str | None = None,
                 register: bool = True) -> str:
    """Registers a business (with credit, or a new code) unless register is False, and
    p in role in it; returns the business's credit code."""
    as_of = ctx.window.as_of
    est = _day_between(rng, dt.date(2003, 1, 1), as_of - dt.timedelta(days=90))
    cancel = _day_between(rng, est, as_of) if cancelled else None
    county = p.county if p else ctx.prov.counties[0]
    if register:
        serial = ctx.serial("business")
        credit = credit or uscc("92" if entity_type == "20" else "91", county,
                                50_000_000 + int(ctx.prov.code2) * 100_000 + serial)
        surname = p.name[0] if p else "新"
        ctx.registry["business_entity"].append({
            "uscc": credit,
            "entity_name": name or f"{ctx.prov.name_zh}{surname}记{rng.choice(_SHOPS)}",
            "entity_type": entity_type,
            "reg_capital": None if entity_type == "20" else rng.randint(10, 500) * 1_000_000,
            "est_date": est, "status": "03" if cancelled else "01", "cancel_date": cancel,
            "reg_admdvs": county})
    if p is not None:
        ctx.registry["business_person"].append({
            "uscc": credit, "id_no": p.id18, "role": role,
            "share_ratio": 1.0 if role == "03" else round(rng.uniform(0.2, 1.0), 2),
            "start_date": est, "end_date": cancel})
    return credit


def registry_background(ctx: Ctx) -> None:
    """Vehicles, homes and business roles of home adults outside assistance cases, and a
    registered business (with a legal representative) for every employer."""
    rng = ctx.rng("registry")
    as_of = ctx.window.as_of
    adults = []
    for p in ctx.persons:
        age = p.age_on(as_of)
        if p.in_case or age < 18 or (p.death and p.death <= as_of):
            continue
        adults.append(p)
        r = rng.random()
        if 20 <= age <= 75 and r < 0.2:
            add_vehicle(ctx, rng, p)
            if r < 0.02:
                add_vehicle(ctx, rng, p)
        elif r < 0.25:
            add_vehicle(ctx, rng, p, "motorcycle")
        elif r < 0.28:
            add_vehicle(ctx, rng, p, cancelled=True)
        if age >= 28:
            r = rng.random()
            homes = 3 if r < 0.04 else 2 if r < 0.19 else 1 if r < 0.79 else 0
            for _ in range(homes):
                u = rng.random()
                usage = "20" if u < 0.05 else "50" if u < 0.10 else "10"
                add_house(ctx, rng, p, usage, cancelled=rng.random() < 0.05)
        r = rng.random()
        if age <= 65 and r < 0.05:
            add_business(ctx, rng, p, "20", "03", cancelled=rng.random() < 0.15)
        elif age <= 65 and r < 0.07:
            credit = add_business(ctx, rng, p, "10", "01")
            add_business(ctx, rng, p, "10", "02", credit=credit, register=False)
    for e in ctx.employers:
        add_business(ctx, rng, rng.choice(adults) if adults else None, "10", "01",
                     name=e.name, credit=e.uscc)


def death_rows(ctx: Ctx, persons: list[Person]) -> None:
    """Death notices for everyone who died by the window's end, and older notices of
    people who appear in no other data (a registry covers everyone)."""
    rng = ctx.rng("deaths")
    w = ctx.window
    died = 0
    for p in persons:
        if p.death is None or p.death > w.end:
            continue
        died += 1
        lag = p.death_lag if p.death_lag is not None else rng.randint(0, 30)
        sources = [("01", lag)]
        if rng.random() < 0.35:
            sources.append(("02", rng.randint(2, 10)))
        if rng.random() < 0.08:
            sources.append(("03", rng.randint(0, 3)))
        for source, days in sources:
            ctx.registry["death_record"].append({
                "id_no": p.id18, "death_date": p.death, "source": source,
                "record_date": min(w.end, p.death + dt.timedelta(days=days)),
                "hukou_admdvs": p.hukou})
    for i in range(max(3, died * 3 // 10)):
        birth = dt.date(1920, 1, 1) + dt.timedelta(days=rng.randrange(35 * 365))
        county = rng.choice(ctx.prov.counties)
        id18 = make_id(county, birth, 900 + i % 50 * 2 + rng.randint(0, 1))
        if id18 in ctx.used_ids:
            continue
        ctx.used_ids.add(id18)
        death = w.start - dt.timedelta(days=rng.randint(200, 3_650))
        ctx.registry["death_record"].append({
            "id_no": id18, "death_date": death, "source": "01",
            "record_date": death + dt.timedelta(days=rng.randint(0, 30)),
            "hukou_admdvs": county})
