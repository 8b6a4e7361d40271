"""Rows of a province node's datasets, emitted from the streams of the people it serves.

Each function yields one dict per row, keyed by the standard's column names; values are
Python dates, fen (for DECIMAL columns), booleans or text, and the writer formats them
by the standard's column types. Rows come in a fixed order: home people by number,
then people of earlier provinces, streams in the order they were built.
"""

from __future__ import annotations

from collections.abc import Iterator

from analyses.synth._calendar import day, month_of
from analyses.synth._codes import bank_hash
from analyses.synth._context import Ctx
from analyses.synth._model import Person

__all__ = ["PROVINCE_DATASETS", "province_rows"]

#: The datasets a province node holds, in the order they are written.
PROVINCE_DATASETS = ("insured_person", "contribution", "benefit_payment", "med_settlement",
                     "assistance_member", "assistance_payment", "public_payroll")
_ETHNIC = ("02", "03", "04", "05", "06", "08", "09", "11", "15")


def _people(ctx: Ctx) -> list[Person]:
    return ctx.persons + ctx.guests


def _insured(ctx: Ctx) -> Iterator[dict]:
    node = ctx.node
    for p in _people(ctx):
        for e in p.enrol:
            if e.node != node:
                continue
            yield {
                "id_no": p.id_at(node), "name": p.name, "gender": "1" if p.male else "2",
                "birth_date": p.birth,
                "ethnicity": "01" if p.pid % 11 else _ETHNIC[p.pid % len(_ETHNIC)],
                "hukou_type": "10" if p.rural else ("30" if p.pid % 5 == 0 else "20"),
                "hukou_admdvs": p.hukou, "psn_no": p.psn_at(node), "scheme_code": e.scheme,
                "pool_admdvs": e.pool,
                "employer_id": e.employer.employer_id if e.employer else None,
                "employer_uscc": e.employer.uscc if e.employer else None,
                "enroll_status": e.status, "first_enroll_date": e.first_enroll,
                "work_start_date": e.work_start, "retire_flag": e.retire_date is not None,
                "retire_date": e.retire_date, "retire_type": e.retire_type,
                "special_group": e.special_group if e.scheme == "170" else None,
            }


def _contributions(ctx: Ctx) -> Iterator[dict]:
    node, w = ctx.node, ctx.window
    for p in _people(ctx):
        for c in p.contribs:
            if c.node != node:
                continue
            common = {"id_no": p.id_at(node), "psn_no": p.psn_at(node), "scheme_code": c.scheme,
                      "pool_admdvs": c.pool,
                      "employer_id": c.employer.employer_id if c.employer else None,
                      "contrib_type": c.ctype}
            if c.ctype == "40":  # the resident scheme: one payment a year
                for year in range(c.first // 12, c.last // 12 + 1):
                    m = year * 12 + c.pay_month - 1
                    if c.first <= m <= c.last and w.first <= m <= w.last:
                        yield {**common, "contrib_id": f"{node.upper()}C{ctx.serial('c'):010d}",
                               "period": day(m, 1), "individual_amt": c.individual,
                               "subsidy_amt": c.subsidy, "paid_date": day(m, 20)}
                continue
            for m in range(max(c.first, w.first), min(c.last, w.last) + 1):
                flexible = c.ctype == "30"
                yield {**common, "contrib_id": f"{node.upper()}C{ctx.serial('c'):010d}",
                       "period": day(m, 1), "contrib_base": c.base,
                       "employer_amt": None if flexible else c.base * 16 // 100,
                       "individual_amt": c.base * (20 if flexible else 8) // 100,
                       "subsidy_amt": 0, "paid_date": day(m, 15)}


def _benefits(ctx: Ctx) -> Iterator[dict]:
    node, w = ctx.node, ctx.window
    for p in _people(ctx):
        common = {"id_no": p.id_at(node), "psn_no": p.psn_at(node),
                  "bank_acct_hash": bank_hash(f"{p.id18}/{node}")}
        for s in p.pensions:
            if s.node != node:
                continue
            base = {**common, "scheme_code": s.scheme, "pool_admdvs": s.pool}
            for m in range(max(s.first, w.first), min(s.last, w.last) + 1):
                late = s.late_first and m == s.first
                for item, cents in s.items(m):
                    yield {**base, "pay_id": f"{node.upper()}P{ctx.serial('p'):010d}",
                           "benefit_item": item, "period": day(m, 1),
                           "pay_date": day(m + 1, 10) if late else day(m, 15), "amount": cents,
                           "pay_status": "4" if late else "1"}
                if m in s.recovered:  # paid in full, recovered in full later
                    back = min(max(s.recovered) + 1, w.last)
                    for item, cents in s.items(m):
                        yield {**base, "pay_id": f"{node.upper()}P{ctx.serial('p'):010d}",
                               "benefit_item": item, "period": day(m, 1),
                               "pay_date": day(back, 25), "amount": -cents, "pay_status": "5"}
            if s.funeral_after is not None and s.funeral_after + 1 <= w.last:
                m = s.funeral_after + 1
                for item, cents in s.funeral():
                    yield {**base, "pay_id": f"{node.upper()}P{ctx.serial('p'):010d}",
                           "benefit_item": item, "period": day(m, 1), "pay_date": day(m, 18),
                           "amount": cents, "pay_status": "1"}
        for u in p.ui:
            if u.node != node:
                continue
            for m in range(max(u.first, w.first), min(u.last, w.last) + 1):
                yield {**common, "pay_id": f"{node.upper()}P{ctx.serial('p'):010d}",
                       "scheme_code": "210", "benefit_item": "0201", "pool_admdvs": u.pool,
                       "period": day(m, 1), "pay_date": day(m, 12), "amount": u.amount,
                       "pay_status": "1"}


def _settlements(ctx: Ctx) -> Iterator[dict]:
    node = ctx.node
    for p in _people(ctx):
        for s in p.stays:
            if s.node != node:
                continue
            yield {
                "setl_id": s.setl_id, "mdtrt_id": "M" + s.setl_id[len(node) + 1:] + node.upper(),
                "id_no": p.id_at(node), "psn_no": p.psn_at(node), "insutype": s.insutype,
                "med_type": s.med_type, "fixmedins_code": s.institution.code,
                "fixmedins_lv": s.institution.level or None, "begin_date": s.begin,
                "end_date": s.end, "setl_time": s.setl_time, "main_diag_code": s.diag or None,
                "medfee_sumamt": s.total, "fulamt_ownpay_amt": s.ownpay,
                "inscp_scp_amt": s.inscp, "hifp_pay": s.fund, "fund_pay_sumamt": s.fund,
                "acct_pay": s.acct, "psn_cash_pay": s.cash, "insuplc_admdvs": p.county,
                "mdtrtarea_admdvs": s.institution.county, "refund_flag": s.refund,
            }


def _members(ctx: Ctx) -> Iterator[dict]:
    node = ctx.node
    for case in ctx.cases:
        for m in case.members:
            p = m.person
            yield {"case_id": case.case_id, "id_no": p.id_at(node), "name": p.name,
                   "birth_date": p.birth, "relation": m.relation, "program": m.program,
                   "admdvs": case.admdvs12, "disability_level": m.disability,
                   "start_date": m.start, "end_date": m.end, "status": m.status}


def _assistance_payments(ctx: Ctx) -> Iterator[dict]:
    node = ctx.node
    for case in ctx.cases:
        head = case.members[0].person
        rows = [(head, case.program, case.first, case.last, case.monthly)]
        for m in case.members:
            if m.program == "04":  # the disability living subsidy is paid per person
                last = min(case.last, month_of(m.end)) if m.end else case.last
                rows.append((m.person, "04", case.first, last, 10_000))
        for p, program, first, last, amount in rows:
            for month in range(first, last + 1):
                yield {"pay_id": f"{node.upper()}A{ctx.serial('a'):010d}",
                       "case_id": case.case_id, "id_no": p.id_at(node), "program": program,
                       "period": day(month, 1), "amount": amount, "pay_date": day(month, 10),
                       "admdvs": case.admdvs12}


def _payroll(ctx: Ctx) -> Iterator[dict]:
    node, w = ctx.node, ctx.window
    for p in _people(ctx):
        for r in p.payroll:
            if r.node != node:
                continue
            for m in range(max(r.first, w.first), min(r.last, w.last) + 1):
                yield {"id_no": p.id_at(node), "employer_code": r.employer_code,
                       "employer_name": r.employer_name, "staffing_type": r.staffing,
                       "status": r.status, "period": day(m, 1), "gross_pay": r.gross,
                       "admdvs": r.admdvs}


_EMITTERS = {"insured_person": _insured, "contribution": _contributions,
             "benefit_payment": _benefits, "med_settlement": _settlements,
             "assistance_member": _members, "assistance_payment": _assistance_payments,
             "public_payroll": _payroll}


def province_rows(ctx: Ctx, dataset: str) -> Iterator[dict]:
    """The rows of one of the province's datasets."""
    return _EMITTERS[dataset](ctx)

