"""Social-assistance cases: 低保 households, 特困 persons, the two disability subsidies.

Volumes follow reference §4.2 [A]: about 2.8% of persons on 低保 in households of one to
five, 0.33% in 特困 care, and a few per thousand on each disability subsidy. Members
who are 16 or older and not in school are enrolled in the resident pension with the
contribution paid by government (special_group), as the rules require; SA-03 plants
break exactly that.
"""

from __future__ import annotations

import datetime as dt

from analyses.synth._calendar import month_of, month_start
from analyses.synth._context import Ctx
from analyses.synth._model import Case, Member, Person
from analyses.synth._population import statutory_retirement

__all__ = ["is_student", "make_cases"]

#: Special group recorded on the enrolment of a member, by programme.
_GROUP = {"01": "01", "02": "01", "03": "02", "04": "03", "05": "03"}


def is_student(m: Member, as_of: dt.date) -> bool:
    """The SA-03 proxy for a pupil or student: a child (relation 03) aged 16 to 22."""
    return m.relation == "03" and 16 <= m.person.age_on(as_of) <= 22


def _free(ctx: Ctx) -> dict[int, list[Person]]:
    """Persons who may join a household, by age at the window's start."""
    by_age: dict[int, list[Person]] = {}
    for p in ctx.persons:
        if p.role in ("RES", "NONE", "CHILD") and p.cadre is None and p.unit is None:
            by_age.setdefault(p.age_on(ctx.window.start), []).append(p)
    return by_age


def _take(rng, by_age: dict[int, list[Person]], lo: int, hi: int, male: bool | None = None,
          ) -> Person | None:
    ages = [a for a in range(max(lo, 0), hi + 1) if by_age.get(a)]
    rng.shuffle(ages)
    for age in ages:
        pool = [p for p in by_age[age] if not p.in_case and (male is None or p.male == male)]
        if pool:
            p = rng.choice(pool)
            p.in_case = True
            return p
    return None


def _case(ctx: Ctx, rng, program: str, members: list[tuple[Person, str]], monthly: int,
          active_share: float = 0.85) -> Case:
    w = ctx.window
    head = members[0][0]
    start = w.start - dt.timedelta(days=rng.randrange(5 * 365)) if rng.random() < 0.7 else \
        month_start(rng.randint(w.first, max(w.first, w.last - 6)))
    deaths = [p.death for p, _ in members if p.death and p.death <= w.end]
    if deaths and min(deaths) <= start:  # nobody joins a case after dying
        start = w.start - dt.timedelta(days=1 + rng.randrange(5 * 365))
    first, last = max(w.first, month_of(start)), w.last
    end = None
    if rng.random() > active_share:  # the case left assistance during the window
        last = rng.randint(first, w.last - 1) if first < w.last else first
        end = month_start(last + 1) - dt.timedelta(days=1)
    if head.death and head.death <= w.end:
        last = min(last, month_of(head.death))
        end = min(end or head.death, head.death)
    serial = ctx.serial("case")
    village = f"{head.county}{1 + serial % 9:03d}{1 + serial % 17:03d}"
    case = Case(f"{ctx.node.upper()}{program}{serial:07d}", ctx.node, program, village, [],
                first, last, monthly)
    for p, relation in members:
        m_end = end
        if p.death and p.death <= w.end:
            m_end = min(m_end or p.death, p.death)
        case.members.append(Member(p, relation, program, "1" if m_end is None else "3",
                                   start, m_end))
        p.in_case = True
    ctx.cases.append(case)
    return case


def make_cases(ctx: Ctx) -> None:
    """Creates the province's assistance cases and enrols their members as the rules say."""
    rng = ctx.rng("assistance")
    by_age = _free(ctx)
    n = len(ctx.persons)
    students = 0
    span = (ctx.window.as_of - ctx.window.start).days // 365
    for i in range(max(25, round(n * 0.028 / 2))):
        head = _take(rng, by_age, 25, 80)
        if head is None:
            break
        age = head.age_on(ctx.window.start)
        members = [(head, "01")]
        if rng.random() < 0.6:
            spouse = _take(rng, by_age, age - 5, age + 5, male=not head.male)
            if spouse:
                members.append((spouse, "02"))
        want_student = students < 3 and i % 3 == 0
        for _ in range(rng.choice((0, 1, 1, 2)) + (1 if want_student else 0)):
            lo, hi = (max(0, 17 - span), 21 - span) if want_student else (0, min(22, age - 20))
            child = _take(rng, by_age, lo, hi)
            if child:
                members.append((child, "03"))
                students += 16 <= child.age_on(ctx.window.as_of) <= 22
                want_student = False
        if rng.random() < 0.1:
            parent = _take(rng, by_age, age + 20, 95)
            if parent:
                members.append((parent, "04"))
        program = "02" if head.rural else "01"
        standard = ctx.prov.dibao_rural if head.rural else ctx.prov.dibao_urban
        monthly = round(standard * 100 * len(members) * rng.uniform(0.6, 0.8))
        case = _case(ctx, rng, program, members, monthly)
        for m in list(case.members):
            if rng.random() < 0.08:  # 困难残疾人生活补贴 for a disabled member of the family
                case.members.append(Member(m.person, m.relation, "04", m.status, m.start, m.end,
                                           disability=rng.choice("1234")))
    for _ in range(max(4, round(n * 0.0033))):
        head = _take(rng, by_age, 60, 95) or _take(rng, by_age, 30, 59)
        if head is None:
            break
        standard = ctx.prov.dibao_rural if head.rural else ctx.prov.dibao_urban
        _case(ctx, rng, "03", [(head, "01")], round(standard * 130 * rng.uniform(0.95, 1.05)))
    for _ in range(max(4, round(n * 0.003))):
        p = _take(rng, by_age, 16, 90)
        if p is None:
            break
        case = _case(ctx, rng, "05", [(p, "01")], 10_000 + rng.randrange(5) * 1_000)
        case.members[0].disability = rng.choice("12")
    _enrol_members(ctx)


def _enrol_members(ctx: Ctx) -> None:
    """Members of 16 and over who are not in school get the resident pension scheme."""
    as_of = ctx.window.as_of
    for case in ctx.cases:
        for m in case.members:
            p = m.person
            if m.program == "04" or p.age_on(as_of) < 16 or is_student(m, as_of):
                continue
            if p.special_group is None:
                p.special_group = _GROUP[case.program]
            if p.role in ("NONE", "CHILD"):
                make_resident(ctx, p)


def make_resident(ctx: Ctx, p: Person) -> None:
    """Enrols p in the resident pension scheme (170) from age 16, drawing it from 60."""
    p.role = "RES"
    p.res_account = p.res_account or 2_000 + p.pid % 50 * 100
    retire = statutory_retirement(p.birth, p.male, 60)
    p.retire = retire if retire <= ctx.window.end else None
