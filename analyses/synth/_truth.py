"""The ground truth: one row per planted case or look-alike, computed from the streams.

Anomalies come from the planting records; look-alikes that arise from ordinary life
(every pensioner's death, every transfer, every student) are found in the finished
province, so the truth lists all of them, not only the deliberately planted ones.
"""

from __future__ import annotations

from collections import Counter

from analyses.synth._assistance import is_student
from analyses.synth._calendar import completed_months, fmt_date, fmt_month, money, month_of
from analyses.synth._context import Ctx
from analyses.synth._model import Pension, Person, Stay

__all__ = ["COLUMNS", "province_truth"]

#: Columns of each truth file, in order (label and reason always last).
COLUMNS = {
    "PEN-01": ("node_id", "id_no", "death_date", "first_period", "last_period", "months",
               "amount", "priority"),
    "PEN-03": ("node_id", "id_no", "other_node_id", "first_period", "last_period", "months",
               "amount"),
    "PEN-04": ("node_id", "id_no", "first_period", "last_period", "months", "amount"),
    "PEN-05": ("node_id", "id_no", "employer_code", "staffing_type", "first_period",
               "last_period", "months", "amount"),
    "PEN-06": ("node_id", "id_no", "scheme_code", "employer_id", "retire_type", "retire_date",
               "retire_age_months", "amount"),
    "MED-01": ("node_id", "id_no", "setl_id", "fixmedins_code", "med_type", "begin_date",
               "death_date", "amount"),
    "MED-02": ("node_id", "id_no", "setl_id_a", "setl_id_b", "fixmedins_code_a",
               "fixmedins_code_b", "overlap_start", "overlap_end", "overlap_days", "amount",
               "other_node_id"),
    "MED-04": ("node_id", "id_no", "fixmedins_code", "prev_setl_id", "setl_id", "prev_end_date",
               "begin_date", "gap_days", "main_diag_code", "amount"),
    "MED-08": ("node_id", "fixmedins_code", "fixmedins_lv", "year", "admissions",
               "avg_ipt_cost", "avg_los", "fund_paid"),
    "UNE-01": ("node_id", "id_no", "first_period", "last_period", "months", "amount"),
    "SA-01": ("node_id", "case_id", "admdvs", "program", "cars", "house_units", "businesses",
              "amount"),
    "SA-03": ("node_id", "county", "persons"),
}
_PENSION_SCHEMES = ("110", "120", "170")


def _span(months: list[int]) -> dict:
    return {"first_period": fmt_month(min(months)), "last_period": fmt_month(max(months)),
            "months": len(months)}


def _paid(s: Pension, months) -> int:
    return sum(s.amount(m) for m in months)


def province_truth(ctx: Ctx) -> None:
    """Adds the province's truth rows (for its own people, at any node) to ctx.truth."""
    for model, label, reason, payload in ctx.plants:
        for row in _ROWS[model](ctx, payload):
            ctx.truth.add(model, label, reason, **row)
    _pen01_lookalikes(ctx)
    _pen03_lookalikes(ctx)
    _med08(ctx)
    _sa03(ctx)


def _pen01(ctx: Ctx, pl: dict):
    p, s = pl["person"], pl["stream"]
    months = [m for m in range(s.first, s.last + 1) if m > month_of(p.death)]
    yield {"node_id": s.node, "id_no": p.id_at(s.node), "death_date": fmt_date(p.death),
           **_span(months), "amount": money(_paid(s, months)),
           "priority": "A" if len(months) > 2 else "B"}


def _pen01_lookalikes(ctx: Ctx) -> None:
    w = ctx.window
    anomalies = {id(pl["person"]) for model, label, _, pl in ctx.plants
                 if model == "PEN-01" and label == "anomaly"}
    for p in ctx.persons:
        if p.death is None or not w.start <= p.death <= w.end or id(p) in anomalies:
            continue
        death_m = month_of(p.death)
        for s in p.pensions:
            if s.last < death_m:
                continue
            reasons, months, amount = [], [], 0
            if s.first <= death_m:
                reasons.append("DEATH_MONTH_PAID")
            if any(m > death_m for m in s.recovered):
                reasons.append("LAG_RECOVERED")
            for m in range(max(s.first, death_m), s.last + 1):
                months.append(m)
                amount += s.amount(m)
            if s.funeral_after is not None and s.funeral_after + 1 <= w.last:
                reasons.append("FUNERAL_GRANT")
                months.append(s.funeral_after + 1)
                amount += sum(c for _, c in s.funeral())
            if reasons:
                ctx.truth.add("PEN-01", "lookalike", "+".join(reasons), node_id=s.node,
                              id_no=p.id_at(s.node), death_date=fmt_date(p.death),
                              **_span(months), amount=money(amount), priority="")


def _pen03(ctx: Ctx, pl: dict):
    p, a, b = pl["person"], pl["a"], pl["b"]
    months = [m for m in range(b.first, b.last + 1) if a.first <= m <= a.last]
    for s, other in ((a, b), (b, a)):
        yield {"node_id": s.node, "id_no": p.id_at(s.node), "other_node_id": other.node,
               **_span(months), "amount": money(_paid(s, months))}


def _pen03_lookalikes(ctx: Ctx) -> None:
    for p in ctx.persons:
        if not p.move_to or not p.pensions:
            continue
        old = next((s for s in p.pensions if s.node == p.home and s.recovered), None)
        new = next((s for s in p.pensions if s.node == p.move_to and s.late_first), None)
        if old is None or new is None:
            continue
        month = p.move_month
        for s, other in ((old, new), (new, old)):
            ctx.truth.add("PEN-03", "lookalike", "TRANSFER_MONTH", node_id=s.node,
                          id_no=p.id_at(s.node), other_node_id=other.node, **_span([month]),
                          amount=money(s.amount(month)))


def _pen04(ctx: Ctx, pl: dict):
    p, res, emp = pl["person"], pl["res"], pl["emp"]
    if "month" in pl:
        months = [pl["month"]]
    else:
        months = [m for m in range(res.first, res.last + 1) if emp.first <= m <= emp.last]
    yield {"node_id": res.node, "id_no": p.id_at(res.node), **_span(months),
           "amount": money(_paid(res, months))}


def _pen05(ctx: Ctx, pl: dict):
    p, res, pay = pl["person"], pl["res"], pl["payroll"]
    months = [m for m in range(res.first, res.last + 1) if pay.first <= m <= pay.last]
    yield {"node_id": res.node, "id_no": p.id_at(res.node), "employer_code": pay.employer_code,
           "staffing_type": pay.staffing, **_span(months), "amount": money(_paid(res, months))}


def _pen06(ctx: Ctx, pl: dict):
    p, e = pl["person"], pl["enrol"]
    paid = 0
    for s in p.pensions:
        if s.node == e.node and s.scheme == e.scheme:
            months = ctx.window.clip(s.first, s.last)
            if months:
                paid += _paid(s, range(months[0], months[1] + 1))
                paid -= sum(s.amount(m) for m in s.recovered)
    yield {"node_id": e.node, "id_no": p.id_at(e.node), "scheme_code": e.scheme,
           "employer_id": e.employer.employer_id if e.employer else "",
           "retire_type": e.retire_type or "", "retire_date": fmt_date(e.retire_date),
           "retire_age_months": completed_months(p.birth, e.retire_date),
           "amount": money(paid)}


def _stay_row(p: Person, s: Stay) -> dict:
    return {"node_id": s.node, "id_no": p.id_at(s.node)}


def _med01(ctx: Ctx, pl: dict):
    p = pl["person"]
    for s in pl["stays"]:
        yield {**_stay_row(p, s), "setl_id": s.setl_id, "fixmedins_code": s.institution.code,
               "med_type": s.med_type, "begin_date": fmt_date(s.begin),
               "death_date": fmt_date(p.death), "amount": money(s.fund + s.acct)}


def _med02(ctx: Ctx, pl: dict):
    p, a, b = pl["person"], pl["a"], pl["b"]
    start, end = max(a.begin, b.begin), min(a.end, b.end)
    overlap = {"overlap_start": fmt_date(start), "overlap_end": fmt_date(end),
               "overlap_days": (end - start).days}
    if a.node == b.node:  # one row: both stays, both fund payments
        yield {**_stay_row(p, a), "setl_id_a": a.setl_id, "setl_id_b": b.setl_id,
               "fixmedins_code_a": a.institution.code, "fixmedins_code_b": b.institution.code,
               **overlap, "amount": money(a.fund + b.fund), "other_node_id": ""}
        return
    # Two provinces (MED-02b): one row per province, its own stay first and its own fund.
    for own, other in ((a, b), (b, a)):
        yield {**_stay_row(p, own), "setl_id_a": own.setl_id, "setl_id_b": other.setl_id,
               "fixmedins_code_a": own.institution.code,
               "fixmedins_code_b": other.institution.code, **overlap,
               "amount": money(own.fund), "other_node_id": other.node}


def _med04(ctx: Ctx, pl: dict):
    p = pl["person"]
    for prev, cur in pl["pairs"]:
        gap = (cur.begin - prev.end).days
        if gap > 15:
            continue  # not within the readmission window: not even a naive hit
        yield {**_stay_row(p, cur), "fixmedins_code": cur.institution.code,
               "prev_setl_id": prev.setl_id, "setl_id": cur.setl_id,
               "prev_end_date": fmt_date(prev.end), "begin_date": fmt_date(cur.begin),
               "gap_days": gap, "main_diag_code": cur.diag, "amount": money(cur.fund)}


def _median(values: list[int]) -> float:
    ordered, half = sorted(values), len(values) // 2
    return ordered[half] if len(values) % 2 else (ordered[half - 1] + ordered[half]) / 2


def _med08(ctx: Ctx) -> None:
    stats: dict[tuple[str, int], list[Stay]] = {}
    for p in ctx.persons + ctx.guests:  # guests of earlier provinces may have stays here
        for s in p.stays:
            h = s.institution
            if s.node == ctx.node and s.med_type in ("21", "22") and not s.refund \
                    and h.code[0] == "H":
                stats.setdefault((h.code, int(s.setl_time[:4])), []).append(s)
    levels = {h.code: h.level for h in ctx.hospitals}
    volume: dict[tuple[str, int], list[int]] = {}
    for (code, year), stays in stats.items():
        volume.setdefault((levels[code], year), []).append(len(stays))
    for (code, year), stays in sorted(stats.items()):
        h = stays[0].institution
        n = len(stays)
        if not h.outlier and (h.weight == 1 or n <= 2 * _median(volume[(h.level, year)])):
            continue  # ordinary, or too few admissions this year to look big
        los = sum((s.end - s.begin).days for s in stays)
        ctx.truth.add("MED-08", "anomaly" if h.outlier else "lookalike",
                      "OUTLIER_COST_AND_STAY" if h.outlier else "HIGH_VOLUME",
                      node_id=ctx.node, fixmedins_code=code, fixmedins_lv=h.level, year=year,
                      admissions=n, avg_ipt_cost=money(round(sum(s.total for s in stays) / n)),
                      avg_los=f"{los / n:.2f}", fund_paid=money(sum(s.fund for s in stays)))


def _une01(ctx: Ctx, pl: dict):
    p, months = pl["person"], pl["months"]
    ui = p.ui[0]
    yield {"node_id": ui.node, "id_no": p.id_at(ui.node), **_span(months),
           "amount": money(ui.amount * len(months))}


def _sa01(ctx: Ctx, pl: dict):
    case = pl["case"]
    yield {"node_id": case.node, "case_id": case.case_id, "admdvs": case.admdvs12,
           "program": case.program, "cars": pl["cars"], "house_units": pl["house_units"],
           "businesses": pl["businesses"],
           "amount": money(case.monthly * (case.last - case.first + 1))}


def _sa03(ctx: Ctx) -> None:
    as_of = ctx.window.as_of
    seen: dict[int, tuple[str, str] | None] = {}
    for case in ctx.cases:
        for m in case.members:
            p = m.person
            if m.status != "1" or m.program == "04" or p.age_on(as_of) < 16 or id(p) in seen:
                continue
            anywhere = any(e.scheme in _PENSION_SCHEMES for e in p.enrol)
            here = any(e.scheme in _PENSION_SCHEMES and e.node == ctx.node for e in p.enrol)
            student = is_student(m, as_of)
            kind = None
            if not anywhere:
                kind = ("lookalike", "STUDENT") if student else ("anomaly", "NOT_ENROLLED")
            elif not here and not student:
                kind = ("lookalike", "ENROLLED_ELSEWHERE")
            seen[id(p)] = kind and (case.admdvs12[:6], *kind)
    counts = Counter(v for v in seen.values() if v)
    for (county, label, reason), n in sorted(counts.items()):
        ctx.truth.add("SA-03", label, reason, node_id=ctx.node, county=county, persons=n)


_ROWS = {"PEN-01": _pen01, "PEN-03": _pen03, "PEN-04": _pen04, "PEN-05": _pen05,
         "PEN-06": _pen06, "MED-01": _med01, "MED-02": _med02, "MED-04": _med04,
         "UNE-01": _une01, "SA-01": _sa01}
