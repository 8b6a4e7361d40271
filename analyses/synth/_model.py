"""The generator's in-memory world: persons, their life events, and the streams rows come from.

A person carries life events (role, retirement, death, unemployment, a move) and, once
built, *streams*: a pension paid from one month to another, contributions, payroll,
settlements. Every CSV row is emitted from a stream, and every truth row is computed
from the same streams, so the two cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from analyses.synth._calendar import age_on

__all__ = [
    "Case", "Contrib", "Employer", "Enrolment", "Hospital", "Member", "Payroll", "Pension",
    "Person", "Stay", "StayElsewhere", "UISpell",
]


@dataclass(slots=True, eq=False)
class Employer:
    """An employer paying contributions (人社 employer number and credit code)."""

    employer_id: str
    uscc: str
    name: str
    pool: str
    county: str
    #: The shell employer where planted irregular early retirements cluster (PEN-06b).
    shell: bool = False


@dataclass(slots=True, eq=False)
class Enrolment:
    """One insured_person row: a person in one scheme and pool at one node."""

    node: str
    scheme: str
    pool: str
    status: str
    first_enroll: dt.date | None
    employer: Employer | None = None
    work_start: dt.date | None = None
    retire_date: dt.date | None = None
    retire_type: str | None = None
    special_group: str | None = None


@dataclass(slots=True, eq=False)
class Pension:
    """A monthly pension paid by one node from month first to month last (inclusive)."""

    node: str
    scheme: str
    pool: str
    first: int
    last: int
    #: Employee/civil-service pension in 2023, fen (item 0101).
    base: int = 0
    #: Resident pension: the basic part in 2023 and the individual-account part, fen.
    res_base: int = 0
    res_account: int = 0
    #: Months paid in full and later recovered in full (a 追回 row of the same period).
    recovered: tuple[int, ...] = ()
    #: The first month is paid a month late as 补发 (pay_status 4), as after a transfer.
    late_first: bool = False
    #: One-off 丧葬补助金 and 抚恤金 in the month after this month (a death month).
    funeral_after: int | None = None

    def items(self, m: int) -> list[tuple[str, int]]:
        """The (benefit_item, fen) paid for month m; amounts rise every January."""
        years = m // 12 - 2023
        if self.scheme == "170":
            return [("0102", max(10_000, self.res_base + 2_000 * years)),
                    ("0103", self.res_account)]
        return [("0101", round(self.base * 1.03 ** years))]

    def amount(self, m: int) -> int:
        """The total paid for month m, fen."""
        return sum(c for _, c in self.items(m))

    def funeral(self) -> list[tuple[str, int]]:
        """The one-off grants paid after death: 丧葬补助金 and 抚恤金, fen."""
        monthly = self.amount(self.last)
        return [("0104", 500_000 + monthly), ("0105", monthly * 9)]


@dataclass(slots=True, eq=False)
class Contrib:
    """Contributions by one node from month first to last: monthly, or yearly for 170."""

    node: str
    scheme: str
    pool: str
    ctype: str
    first: int
    last: int
    employer: Employer | None
    #: Monthly contribution base (employees), fen.
    base: int = 0
    #: Resident scheme: month of the year the yearly contribution is paid, the
    #: individual amount and the government subsidy, fen.
    pay_month: int = 3
    individual: int = 0
    subsidy: int = 0


@dataclass(slots=True, eq=False)
class UISpell:
    """Unemployment benefit (失业保险金, item 0201) paid by one node, months first..last."""

    node: str
    pool: str
    first: int
    last: int
    amount: int


@dataclass(slots=True, eq=False)
class Payroll:
    """Public payroll (统发工资) rows of one node, months first..last."""

    node: str
    employer_code: str
    employer_name: str
    staffing: str
    status: str
    first: int
    last: int
    gross: int
    admdvs: str


@dataclass(slots=True, eq=False)
class Hospital:
    """A designated medical institution (H…) or pharmacy (P…)."""

    code: str
    level: str
    county: str
    #: Multipliers on the level's mean cost and length of stay.
    cost_factor: float = 1.0
    los_factor: float = 1.0
    #: Relative share of the province's admissions.
    weight: float = 1.0
    #: A planted MED-08 outlier: inflated cost and length of stay.
    outlier: bool = False
    #: Allocation credit (smooth weighted round robin over a level's hospitals).
    credit: float = 0.0


@dataclass(slots=True, eq=False)
class Stay:
    """One med_settlement row (an inpatient stay, a visit or a pharmacy purchase)."""

    node: str
    setl_id: str
    med_type: str
    institution: Hospital
    begin: dt.date
    end: dt.date
    diag: str
    total: int
    insutype: str
    #: Settlement time as text, YYYY-MM-DD HH:MM:SS.
    setl_time: str
    fund: int = 0
    acct: int = 0
    ownpay: int = 0
    inscp: int = 0
    refund: bool = False

    @property
    def cash(self) -> int:
        return self.total - self.fund - self.acct


@dataclass(slots=True, eq=False)
class StayElsewhere:
    """An inpatient stay that a later node must settle for a person of an earlier one,
    beside the stay `home` at the person's own node (MED-02b)."""

    node: str
    begin: dt.date
    home: Stay
    label: str
    reason: str


@dataclass(slots=True, eq=False)
class Member:
    """One person's place in an assistance case."""

    person: Person
    relation: str
    program: str
    status: str = "1"
    start: dt.date | None = None
    end: dt.date | None = None
    disability: str | None = None


@dataclass(slots=True, eq=False)
class Case:
    """An assistance case (救助家庭/案件): members, a programme, monthly payments."""

    case_id: str
    node: str
    program: str
    admdvs12: str
    members: list[Member]
    first: int
    last: int
    monthly: int


@dataclass(slots=True, eq=False)
class Person:
    """A synthetic person: identity, life events, and the streams built from them."""

    pid: int
    id18: str
    name: str
    male: bool
    birth: dt.date
    hukou: str
    home: str
    rural: bool
    role: str
    #: Where the person lives in the home province: county and pool (prefecture).
    county: str = ""
    pool: str = ""
    #: How this person's ID is written in province data, when the export mangles it.
    id_out: str | None = None
    #: The model whose planted case (or look-alike) uses this person, if any.
    reserved: str | None = None
    employer: Employer | None = None
    flexible: bool = False
    work_start: dt.date | None = None
    retire: dt.date | None = None
    retire_type: str = "10"
    death: dt.date | None = None
    #: Background unemployment: benefit months and the month contributions resume.
    ui_first: int | None = None
    ui_last: int | None = None
    reemploy: int | None = None
    #: A pension or contribution transfer to another node from a month on.
    move_to: str | None = None
    move_month: int | None = None
    move_employer: Employer | None = None
    #: Days from death to the registry's record (None: a usual lag is drawn).
    death_lag: int | None = None
    #: Public sector: staffing type, payroll unit, and whether the pension is paid
    #: through the payroll (retired before the 2014 reform).
    staffing: str | None = None
    unit: tuple[str, str] | None = None
    payroll_retiree: bool = False
    cadre: tuple[str, str] | None = None
    special_group: str | None = None
    in_case: bool = False
    #: Monthly amounts in fen.
    pension_base: int = 0
    res_account: int = 0
    wage: int = 0
    res_tier: int = 30_000
    enrol: list[Enrolment] = field(default_factory=list)
    pensions: list[Pension] = field(default_factory=list)
    contribs: list[Contrib] = field(default_factory=list)
    ui: list[UISpell] = field(default_factory=list)
    payroll: list[Payroll] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    #: Inpatient stays later nodes settle for this person (planted MED-02b cases).
    elsewhere: list[StayElsewhere] = field(default_factory=list)

    def psn_at(self, node: str) -> str:
        """The person's number (个人编号) at a node: pool and serial at home, else a
        number the other node gave when the person arrived."""
        if node == self.home:
            return f"{self.pool}{self.pid:08d}"
        return f"X{self.home.upper()}{self.pid:08d}"

    def id_at(self, node: str) -> str:
        """The ID as written in this node's data (registries always get the true ID)."""
        return self.id_out if self.id_out and node == self.home else self.id18

    def age_on(self, when: dt.date) -> int:
        """Completed years of age on a date."""
        return age_on(self.birth, when)
