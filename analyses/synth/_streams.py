"""Turns a person's life events into streams: enrolments, contributions, pensions, payroll.

The rules are the ordinary course of things: contributions while working, a pension from
the retirement month through the death month, nothing after death, a transfer that
ends one node's payments in the month another node takes over (with the transfer month
paid twice and recovered once), benefit while unemployed and no contribution then.
"""

from __future__ import annotations

import datetime as dt

from analyses.synth._calendar import month_of, month_start
from analyses.synth._context import Ctx
from analyses.synth._model import Contrib, Enrolment, Payroll, Pension, Person, UISpell
from analyses.synth._regions import province

__all__ = ["build_streams", "pension_stream", "ui_amount"]

_SCHEME = {"EMP": "110", "CIV": "120", "RES": "170"}
#: Unemployment benefit, fen a month (reference §4.3: 1,585 yuan in 2021).
_UI_NATIONAL = 158_500


def ui_amount(ctx: Ctx) -> int:
    """The province's monthly unemployment benefit, fen."""
    return round(_UI_NATIONAL * (0.5 + 0.5 * ctx.prov.wage_factor))


def pension_stream(ctx: Ctx, p: Person, scheme: str, node: str, pool: str,
                   first: int, last: int) -> Pension:
    """A pension of p's amounts, paid by node for months first..last."""
    if scheme == "170":
        return Pension(node, "170", pool, first, last, res_base=ctx.prov.resident_base * 100,
                       res_account=p.res_account or 5_000)
    return Pension(node, scheme, pool, first, last, base=p.pension_base or 250_000)


def _end_month(ctx: Ctx, p: Person) -> int:
    """The last month anything is paid for p: the death month or the window's end."""
    if p.death is not None and p.death <= ctx.window.end:
        return month_of(p.death)
    return ctx.window.last


def _split(a: int, b: int, at: int | None) -> list[tuple[int, int, bool]]:
    """[a, b] as (first, last, moved) parts before and from month at."""
    if a > b:
        return []
    if at is None or at > b:
        return [(a, b, False)] if a <= b else []
    if at <= a:
        return [(a, b, True)]
    return [(a, at - 1, False), (at, b, True)]


def build_streams(ctx: Ctx, p: Person) -> None:
    """Replaces p's streams with those its life events imply."""
    for part in (p.enrol, p.pensions, p.contribs, p.ui, p.payroll):
        part.clear()
    if p.cadre:
        _cadre(ctx, p)
    if p.role not in _SCHEME:
        return
    w = ctx.window
    scheme = _SCHEME[p.role]
    end = _end_month(ctx, p)
    dead = p.death is not None and p.death <= w.end
    retire_m = month_of(p.retire) if p.retire else None
    moved_pool = province(p.move_to).prefectures[0][0] if p.move_to else ""
    # Working months: contributions (and public payroll) until retirement.
    start = w.first
    if p.work_start:
        start = max(start, month_of(p.work_start))
    elif p.role == "RES":
        start = max(start, month_of(p.birth) + 16 * 12)
    work_last = min(end, retire_m - 1) if retire_m is not None else end
    spans = [(start, work_last)]
    if p.ui_first is not None:
        spans = [(start, min(work_last, p.ui_first - 1))]
        if p.reemploy is not None:
            spans.append((p.reemploy, work_last))
        p.ui.append(UISpell(p.home, p.pool, p.ui_first, min(p.ui_last, end), ui_amount(ctx)))
    for a, b in spans:
        for first, last, moved in _split(a, b, p.move_month):
            node, pool = (p.move_to, moved_pool) if moved else (p.home, p.pool)
            p.contribs.append(_contrib(p, scheme, node, pool, first, last))
            if p.unit and not p.payroll_retiree and not moved:
                p.payroll.append(Payroll(p.home, p.unit[0], p.unit[1], p.staffing or "10", "1",
                                         first, last, round(p.wage * 1.1), p.county))
    # Pension months.
    if retire_m is not None and max(retire_m, w.first) <= end:
        first = max(retire_m, w.first)
        if p.payroll_retiree:
            p.payroll.append(Payroll(p.home, p.unit[0], p.unit[1], p.staffing or "10", "2",
                                     first, end, p.pension_base, p.county))
        else:
            for a, b, moved in _split(first, end, p.move_month):
                if moved:
                    s = pension_stream(ctx, p, scheme, p.move_to, moved_pool, a, b)
                    s.late_first = a == p.move_month
                else:
                    s = pension_stream(ctx, p, scheme, p.home, p.pool, a, b)
                    if p.move_month is not None and p.move_month <= end:
                        s.last = p.move_month
                        s.recovered = (p.move_month,)
                p.pensions.append(s)
            if dead and scheme in ("110", "120") and p.pensions:
                p.pensions[-1].funeral_after = end
    _enrolments(ctx, p, scheme, dead, retire_m, moved_pool)


def _contrib(p: Person, scheme: str, node: str, pool: str, first: int, last: int) -> Contrib:
    employer = p.move_employer if node != p.home else p.employer
    if scheme == "170":
        individual, subsidy = (0, 13_000) if p.special_group else (p.res_tier, 3_000)
        return Contrib(node, "170", pool, "40", first, last, None, pay_month=3 + p.pid % 8,
                       individual=individual, subsidy=subsidy)
    if p.flexible:
        return Contrib(node, scheme, pool, "30", first, last, None, base=round(p.wage * 0.6))
    return Contrib(node, scheme, pool, "10", first, last, employer, base=p.wage)


def _enrolments(ctx: Ctx, p: Person, scheme: str, dead: bool, retire_m: int | None,
                moved_pool: str) -> None:
    w = ctx.window
    retired = retire_m is not None and retire_m <= w.last
    contributing = bool(p.contribs) and p.contribs[-1].last == w.last
    status = "3" if dead else ("1" if retired or contributing or scheme == "170" else "2")
    first_enroll = _first_enroll(p, scheme)
    moved = p.move_to is not None and p.move_month is not None
    common = dict(employer=p.employer, work_start=p.work_start,
                  retire_date=p.retire if retired else None,
                  retire_type=p.retire_type if retired else None,
                  special_group=p.special_group)
    p.enrol.append(Enrolment(p.home, scheme, p.pool, "3" if moved else status, first_enroll,
                             **common))
    if moved:
        there = {**common, "employer": p.move_employer or p.employer}
        p.enrol.append(Enrolment(p.move_to, scheme, moved_pool, status,
                                 month_start(p.move_month), **there))
    if scheme == "110" and not p.flexible and (p.ui_first is not None or (
            p.contribs and p.contribs[-1].last >= w.first and not retired)):
        ui_status = "3" if dead else ("1" if contributing else "2")
        p.enrol.append(Enrolment(p.home, "210", p.pool, "3" if moved else ui_status,
                                 first_enroll, employer=p.employer, work_start=p.work_start))
        if moved:
            p.enrol.append(Enrolment(p.move_to, "210", moved_pool, ui_status,
                                     month_start(p.move_month), employer=p.move_employer,
                                     work_start=p.work_start))


def _first_enroll(p: Person, scheme: str) -> dt.date:
    if scheme == "170":
        sixteen = month_start(month_of(p.birth) + 16 * 12 + 1)
        return max(sixteen, dt.date(2009, 10, 1))
    return max(p.work_start or dt.date(1992, 1, 1), dt.date(1992, 1, 1))


def _cadre(ctx: Ctx, p: Person) -> None:
    end = _end_month(ctx, p)
    if ctx.window.first <= end:
        gross = 200_000 + p.pid % 15 * 10_000
        p.payroll.append(Payroll(p.home, p.cadre[0], p.cadre[1], "50", "1",
                                 ctx.window.first, end, gross, p.county))
