"""Planted medical cases and look-alikes: MED-01, MED-02 (within a province and across two)
and MED-04 (MED-08's outliers are institutions, flagged when they are created)."""

from __future__ import annotations

import datetime as dt

from analyses.synth._context import Ctx
from analyses.synth._medical import LEVELS, busiest, inpatient, new_stay, ordinary
from analyses.synth._model import Hospital, Person, StayElsewhere
from analyses.synth._plant_pension import Pool, count, pick
from analyses.synth._streams import build_streams

__all__ = ["plant_cross_province_stays", "plant_medical"]

#: Readmission diagnoses in the same ICD-10 category as the first stay (MED-04).
_SAME_CATEGORY = {"I63.9": "I63.8", "J18.9": "J18.0", "K80.2": "K80.1", "E11.9": "E11.6",
                  "I50.9": "I50.0", "J44.1": "J44.0", "I25.1": "I25.9"}
_OTHER_CATEGORY = {"I63.9": "J18.9", "J18.9": "K29.7", "K80.2": "I10", "E11.9": "N20.0",
                   "I50.9": "M51.2", "J44.1": "K35.8", "I25.1": "E11.9"}


def plant_medical(ctx: Ctx) -> None:
    """Plants MED-01, MED-02 and MED-04 cases and look-alikes (before background care)."""
    w = ctx.window
    if (w.end - w.start).days < 200:
        return
    _med01(ctx)
    _med02(ctx)
    _med04(ctx)


def _healthy(ctx: Ctx, p: Person, lo: int = 30, hi: int = 85) -> bool:
    return (p.death is None and not p.in_case and p.move_to is None
            and lo <= p.age_on(ctx.window.start) <= hi)


def _die(ctx: Ctx, rng, p: Person, lo_days: int, hi_days: int) -> None:
    """Lets p die between lo_days after the window's start and hi_days before its end."""
    w = ctx.window
    p.death = w.start + dt.timedelta(days=rng.randint(lo_days, (w.end - w.start).days - hi_days))
    build_streams(ctx, p)


def _med01(ctx: Ctx) -> None:
    rng = ctx.rng("MED-01")
    w = ctx.window
    opt = [h for h in ctx.hospitals if h.level in ("1", "2")]
    settlements = len(ctx.persons) * 3 * (w.last - w.first + 1) // 12
    for p in pick(ctx, rng, count(0.0005, settlements), "MED-01", lambda p: _healthy(ctx, p)):
        _die(ctx, rng, p, 30, 100)
        stays = []
        for _ in range(rng.randint(1, 3)):
            d = p.death + dt.timedelta(days=rng.randint(3, 90))
            if d > w.end:
                continue
            # Misused identities cluster: most claims go through one pharmacy.
            if rng.random() < 0.6:
                inst, med_type, diag = ctx.pharmacies[0], "41", ""
            else:
                inst, med_type, diag = rng.choice(opt), "11", "I10"
            stays.append(new_stay(ctx, p, med_type, inst, d, d, diag,
                                  rng.randint(150, 1_500) * 100))
        if not stays:
            d = p.death + dt.timedelta(days=1)
            stays.append(new_stay(ctx, p, "41", ctx.pharmacies[0], d, d, "", 30_000))
        ctx.plant("MED-01", "anomaly", "SETTLED_AFTER_DEATH", person=p, stays=stays)
    for p in pick(ctx, rng, 2, "MED-01", lambda p: _healthy(ctx, p, 60, 90)):
        _die(ctx, rng, p, 40, 5)
        hospital = rng.choice(ordinary(ctx))
        los = round(LEVELS[hospital.level][2] * hospital.los_factor)
        s = inpatient(ctx, rng, p, p.death - dt.timedelta(days=los), hospital, los=los)
        s.setl_time = f"{p.death + dt.timedelta(days=rng.randint(1, 3))}{s.setl_time[10:]}"
        ctx.plant("MED-01", "lookalike", "ADMITTED_BEFORE_DEATH", person=p, stays=[s])
    for p in pick(ctx, rng, 1, "MED-01", lambda p: _healthy(ctx, p)):
        _die(ctx, rng, p, 30, 60)
        d = p.death + dt.timedelta(days=rng.randint(2, 30))
        s = new_stay(ctx, p, "41", ctx.pharmacies[-1], d, d, "", rng.randint(100, 800) * 100,
                     refund=True)
        ctx.plant("MED-01", "lookalike", "REFUNDED", person=p, stays=[s])


def _start(ctx: Ctx, rng, tail: int) -> dt.date:
    w = ctx.window
    return w.start + dt.timedelta(days=rng.randint(10, (w.end - w.start).days - tail))


def _med02(ctx: Ctx) -> None:
    rng = ctx.rng("MED-02")
    admissions = round(len(ctx.persons) * 0.17 * (ctx.window.last - ctx.window.first + 1) / 12)
    plan = [("anomaly", "OVERLAPPING_STAYS")] * count(0.005, admissions)
    plan += [("lookalike", "SAME_DAY_TRANSFER")] * 2
    pool = Pool(ctx, rng, lambda p: _healthy(ctx, p))
    for label, reason in plan:
        for p in pool.take(1, "MED-02"):
            first_h, second_h = rng.sample([h for h in ordinary(ctx) if h.level != "1"], 2)
            a = inpatient(ctx, rng, p, _start(ctx, rng, 60), first_h)
            los_a = (a.end - a.begin).days
            if label == "anomaly":  # admitted elsewhere while still in the first hospital
                begin = a.begin + dt.timedelta(days=rng.randint(1, max(1, los_a - 3)))
            else:
                begin = a.end
            b = inpatient(ctx, rng, p, begin, second_h)
            ctx.plant("MED-02", label, reason, person=p, a=a, b=b)


def _med04(ctx: Ctx) -> None:
    rng = ctx.rng("MED-04")
    admissions = round(len(ctx.persons) * 0.17 * (ctx.window.last - ctx.window.first + 1) / 12)
    pool = Pool(ctx, rng, lambda p: _healthy(ctx, p))
    for _ in range(count(0.005, admissions)):
        for p in pool.take(1, "MED-04"):
            diag = rng.choice(sorted(_SAME_CATEGORY))
            a = inpatient(ctx, rng, p, _start(ctx, rng, 100), rng.choice(ordinary(ctx)), diag)
            b = inpatient(ctx, rng, p, a.end + dt.timedelta(days=rng.randint(1, 10)),
                          a.institution, diag=_SAME_CATEGORY[diag])
            ctx.plant("MED-04", "anomaly", "SPLIT_STAY", person=p, pairs=[(a, b)])
    chains = (("CHEMOTHERAPY", "C34.9", "Z51.1", (9, 13), (2, 4)),
              ("DIALYSIS", "N18.5", "N18.5", (4, 10), (1, 3)))
    for reason, first_diag, diag, gaps, stays in chains:
        for p in pool.take(1, "MED-04"):
            hospital = busiest(ctx)
            prev = inpatient(ctx, rng, p, _start(ctx, rng, 120), hospital, first_diag,
                             los=rng.randint(*stays) + (5 if first_diag != diag else 0))
            pairs = []
            for _ in range(3):
                cur = inpatient(ctx, rng, p, prev.end + dt.timedelta(days=rng.randint(*gaps)),
                                hospital, diag, los=rng.randint(*stays))
                pairs.append((prev, cur))
                prev = cur
            ctx.plant("MED-04", "lookalike", reason, person=p, pairs=pairs)
    for _ in range(2):
        for p in pool.take(1, "MED-04"):
            diag = rng.choice(sorted(_OTHER_CATEGORY))
            a = inpatient(ctx, rng, p, _start(ctx, rng, 100), rng.choice(ordinary(ctx)), diag)
            b = inpatient(ctx, rng, p, a.end + dt.timedelta(days=rng.randint(3, 14)),
                          a.institution, diag=_OTHER_CATEGORY[diag])
            ctx.plant("MED-04", "lookalike", "DIFFERENT_DIAGNOSIS", person=p, pairs=[(a, b)])


def plant_cross_province_stays(ctx: Ctx) -> None:
    """Plants MED-02b: home stays overlapping a stay in a later province's hospital, and
    the stays that earlier provinces' persons have in this province's hospitals.

    Runs after every other step that draws persons (background care, registries, bad
    IDs) and before costs are finalised, so that the other models' planted cases and the
    background stay as they were; the planted persons have a valid ID and no other
    inpatient stay. Their truth rows (one per province) are recorded where the second
    stay is made, once both exist.
    """
    w = ctx.window
    if (w.end - w.start).days < 200:
        return
    _settle_guests(ctx)
    if ctx.later:
        _send_patients(ctx)


def _no_inpatient_stay(p: Person) -> bool:
    return not any(s.med_type in ("21", "22", "52") for s in p.stays)


def _wards(ctx: Ctx) -> list[Hospital]:
    """The hospitals that receive planted MED-02 stays: ordinary ones above level 1."""
    return [h for h in ordinary(ctx) if h.level != "1"]


def _send_patients(ctx: Ctx) -> None:
    """Home persons with a stay here and a stay in a later province: at least three with
    shared nights (CROSS_PROVINCE) and one transferred on the day of discharge
    (CROSS_PROVINCE_TRANSFER) per later province."""
    rng = ctx.rng("MED-02b")
    admissions = round(len(ctx.persons) * 0.17 * (ctx.window.last - ctx.window.first + 1) / 12)
    n = max(3 * len(ctx.later), count(0.005, admissions))
    plan = [("anomaly", "CROSS_PROVINCE", ctx.later[i % len(ctx.later)]) for i in range(n)]
    plan += [("lookalike", "CROSS_PROVINCE_TRANSFER", ctx.later[i % len(ctx.later)])
             for i in range(max(2, len(ctx.later)))]
    pool = Pool(ctx, rng, lambda p: _healthy(ctx, p) and p.id_out is None
                and _no_inpatient_stay(p))
    for label, reason, node in plan:
        for p in pool.take(1, "MED-02b"):
            a = inpatient(ctx, rng, p, _start(ctx, rng, 60), rng.choice(_wards(ctx)))
            los_a = (a.end - a.begin).days
            if label == "anomaly":  # admitted in another province, at least 3 nights shared
                begin = a.begin + dt.timedelta(days=rng.randint(1, max(1, los_a - 3)))
            else:  # discharged here and admitted there the same day: no night shared
                begin = a.end
            p.elsewhere.append(StayElsewhere(node, begin, a, label, reason))
            ctx.export(p, node)


def _settle_guests(ctx: Ctx) -> None:
    """The stays in this province of earlier provinces' persons sent here by
    _send_patients, each recorded with the home stay it overlaps or follows."""
    rng = ctx.rng("MED-02b/guests")
    for p in ctx.guests:
        for planned in p.elsewhere:
            if planned.node != ctx.node:
                continue
            b = inpatient(ctx, rng, p, planned.begin, rng.choice(_wards(ctx)))
            ctx.plant("MED-02", planned.label, planned.reason, person=p, a=planned.home, b=b)
