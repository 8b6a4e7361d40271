"""The text of truth/README.md: what each ground-truth file holds and the rule behind it."""

from __future__ import annotations

__all__ = ["TRUTH_README"]

TRUTH_README = """\
# Ground truth of this synthetic federation

Written by `fedaudit synth federation`. Each `<model>.csv` lists the cases planted for one
priority model of the domain reference (§7) and the **look-alikes**: legitimate cases
that a naive version of the rule would flag and that the model must NOT report. Every
file ends with two columns:

- `label`: `anomaly` (the model must report it) or `lookalike` (it must not);
- `reason`: how the case was made (for look-alikes, several reasons are joined by `+`).

A model is right on a province when the set of cases it reports equals the `anomaly`
rows of that `node_id`; recall and precision follow from the difference. Amounts are
yuan with two decimals; periods are months written as their first day. `id_no` is the
ID as written in that node's files (registries always hold the correct 18-character
ID). Background data never meets a rule by accident: persons' inpatient stays are at
least 30 days apart, assistance members own nothing unless planted, and so on, so the
anomaly rows are exactly what each rule below returns (the tests recompute them with
DuckDB from the CSV files). About 0.3% of IDs in province files are deliberately
invalid (bad check character, 15-digit legacy number, impossible date); no planted case
uses them.

Planted cases follow the "test" rates of the domain reference §4.5 (for example 1% of
deaths for PEN-01, 0.5% of admissions for MED-02 and MED-04), never fewer than three per
model and province; cross-province cases (PEN-03, MED-02 CROSS_PROVINCE, SA-03
ENROLLED_ELSEWHERE) need two or more provinces. Rule parameters: PEN-01 lag_months 2,
MED-01 tolerance_days 0, MED-02 min_overlap_days 1, MED-04 max_gap_days 15, MED-08
|z| > 3.

Common terms: a *pension* is `benefit_payment` with `scheme_code` 110/120/170 and
`benefit_item` 0101/0102/0103; the *net* amount of a month sums every row of that
period, so a 追回 row (negative, `pay_status` 5) cancels the payment it recovers. The
death date of a person is the earliest `death_date` in `death_record`.

## PEN-01.csv: pension paid after death
Columns: node_id, id_no, death_date, first_period, last_period, months, amount, priority.
Rule: per node and person with a death record, pension rows (excluding 0104 丧葬补助金
and 0105 抚恤金) whose period is after the death month; reported when their net sum is
above zero. `months` counts those periods, `amount` is their net sum, `priority` is A
when more than 2 months were overpaid, else B.
Look-alikes (one row per pension stream of a person who died in the window):
DEATH_MONTH_PAID (the death month is paid in full, as the law says), FUNERAL_GRANT
(0104/0105 paid the month after death), LAG_RECOVERED (paid one or two months after
death, because the registry notified late, then recovered in full). Their months and
amount are the rows with a period on or after the death month.

## PEN-03.csv: pension paid by two provinces in the same month
Columns: node_id, id_no, other_node_id, first_period, last_period, months, amount.
Rule: per node, person and period, the net pension; a person-month is a duplicate when
two or more nodes have a net above zero. One row per node involved: the duplicate
months and that node's net pension in them.
Look-alikes: TRANSFER_MONTH, a pension transferred to another province; in the
transfer month the old province pays and recovers (net zero) and the new one pays late
(补发, `pay_status` 4). Needs at least two provinces.

## PEN-04.csv: employee and resident pension in the same month (one province)
Columns: node_id, id_no, first_period, last_period, months, amount.
Rule: per node, person and period, net 170 pension above zero and net 110/120 pension
above zero. `amount` is the resident (170) pension of those months, to be recovered.
Look-alikes: RESIDENT_TO_EMPLOYEE_TRANSFER, a resident pensioner who moved to the
employee scheme: in the transfer month the resident pension is paid and recovered.

## PEN-05.csv: public-payroll staff drawing the resident pension
Columns: node_id, id_no, employer_code, staffing_type, first_period, last_period, months,
amount.
Rule: per node, months with net 170 pension above zero and a `public_payroll` row of
the same person and period with `status` 1 or 2 and `staffing_type` other than 50.
`amount` is the resident pension of those months.
Look-alikes: VILLAGE_CADRE, village cadres (staffing_type 50) over 60 drawing the
resident pension, which is lawful.

## PEN-06.csv: irregular early retirement / age ineligibility
Columns: node_id, id_no, scheme_code, employer_id, retire_type, retire_date,
retire_age_months, amount.
Rule: `insured_person` rows with `retire_flag` true, retire age in completed months
(DuckDB `date_sub('month', birth_date, retire_date)`), flagged with the first reason
that applies:
RES_UNDER_60: scheme 170 and age under 720 months;
BELOW_STATUTORY_AGE: scheme 110/120 and age under the floor of the retire_type
(10 normal: men 720, women 600; 20 special work: men 660, women 540; 30 illness: men
600, women 540; 40 other: men 660, women 540);
WORK_START_BEFORE_16: `work_start_date` less than 192 months after birth.
`amount` is the net pension of that scheme paid in the window. Irregular retirements
cluster at one shell employer (劳务派遣) per province (PEN-06b).
Look-alikes: SPECIAL_WORK_AT_AGE and ILLNESS_AT_AGE, lawful early retirements at or
above the floor of their type, which a rule of "men 60, women 55" would flag.

## MED-01.csv: settlements after death
Columns: node_id, id_no, setl_id, fixmedins_code, med_type, begin_date, death_date, amount.
Rule: `med_settlement` rows with `begin_date` after the death date (tolerance 0 days)
and `refund_flag` not true. One row per settlement; `amount` is fund_pay_sumamt +
acct_pay. Most planted claims go through one pharmacy per province.
Look-alikes: ADMITTED_BEFORE_DEATH (admitted before death, discharged on the day of
death, settled one to three days later), REFUNDED (a claim after death that was
reversed, `refund_flag` true).

## MED-02.csv: overlapping inpatient stays at different institutions
Columns: node_id, id_no, setl_id_a, setl_id_b, fixmedins_code_a, fixmedins_code_b,
overlap_start, overlap_end, overlap_days, amount, other_node_id.
Two kinds of rows, told apart by `reason` (and by `other_node_id`, empty within one
province). The model within a province (MED-02) is measured on OVERLAPPING_STAYS, the
cross-province model (MED-02b) on CROSS_PROVINCE.
Rule within one province (OVERLAPPING_STAYS): pairs of non-refunded settlements of one
person with `med_type` 21/22/52 at different institutions of the same node, setl_id_a <
setl_id_b, whose stays overlap by at least 1 day (overlap_days = least(end) -
greatest(begin)). One row per pair; `amount` is both stays' fund_pay_sumamt.
Rule across provinces (CROSS_PROVINCE): the same, for two stays of one person (same ID
number) settled by two different nodes; they share overlap_days nights (a night is a
day from begin_date to the day before end_date). One row per node involved:
`node_id`, `setl_id_a` and `fixmedins_code_a` are that node's stay, `setl_id_b` and
`fixmedins_code_b` the stay of `other_node_id`, and `amount` is the fund_pay_sumamt of
that node's stay only. A planted person has exactly these two inpatient stays, one in
the home province and one in a later province, sharing at least three nights: 0.5% of
the home province's admissions spread over the provinces after it, and at least three
such persons for every pair of provinces.
Look-alikes: SAME_DAY_TRANSFER, discharged and admitted at another institution of the
same province the same day (overlap 0 days); CROSS_PROVINCE_TRANSFER, discharged and
admitted in another province's hospital the same day (no night shared; one row per node,
as above, at least one person for every pair of provinces).

## MED-04.csv: split hospitalisation
Columns: node_id, id_no, fixmedins_code, prev_setl_id, setl_id, prev_end_date,
begin_date, gap_days, main_diag_code, amount.
Rule: non-refunded `med_type` 21/22 settlements of one person at one institution,
ordered by begin_date; a stay is flagged when it begins 0 to 15 days after the previous
one ended, the first 3 characters of both main diagnoses are equal, and its diagnosis
is not Z51% (chemotherapy) or N18% (dialysis). `amount` is its fund_pay_sumamt.
Look-alikes (rows for each readmission within 15 days): CHEMOTHERAPY (C34.9, then
Z51.1 cycles), DIALYSIS (N18.5 stays), DIFFERENT_DIAGNOSIS (readmitted for another
condition).

## MED-08.csv: institution profiling (aggregate)
Columns: node_id, fixmedins_code, fixmedins_lv, year, admissions, avg_ipt_cost, avg_los,
fund_paid.
Rule: per node, hospital (`fixmedins_code` H…) and year of `setl_time`, over
non-refunded `med_type` 21/22 settlements: avg_ipt_cost = mean medfee_sumamt, avg_los
= mean of end_date - begin_date in days. Within the same node, level and year, the
robust z-score of each KPI is (value - median) / greatest(1.4826 × MAD, 0.1 × median);
the floor of a tenth of the median keeps z defined when most peers are equal (MAD 0)
and keeps small differences among near-identical peers from counting. An
institution-year is an outlier when |z| > 3 for both KPIs. Every other hospital's mean
cost is set exactly to its level's mean times a factor between 0.85 and 1.15, and its
stays last the level's usual length within 8% and a day, so only the planted outliers
(cost ×2.5, stays three times the usual length, one per level and province) stand out.
Every hospital has at least three admissions in each year of the window (where a stay
fits), so peer groups stay meaningful in small provinces and short years.
Look-alikes: HIGH_VOLUME, one tertiary hospital per province with six times the usual
admissions and ordinary costs and stays: a rule on volume (admissions more than twice
the peer median) or on total fund paid would flag it; listed for the years in which its
admissions are more than twice its peers' median.

## UNE-01.csv: unemployment benefit while employed, on a pension, or dead
Columns: node_id, id_no, first_period, last_period, months, amount.
Rule: per node, `benefit_payment` rows with scheme 210, item 0201 and amount above zero;
a benefit month is flagged (reason) when
EMPLOYED: a `contribution` of the same person and period has `contrib_type` 10 and an
employer_id, and the month is not the person's first benefit month;
RECEIVING_PENSION: the person's net pension of that period is above zero;
DECEASED: the death month is before the period.
One row per person and reason; `amount` is the benefit of the flagged months.
Look-alikes: FINAL_MONTH_CONTRIBUTION (the old job's last month contributed in the
first benefit month), FLEXIBLE_EMPLOYMENT (own contributions, type 30, no employer).

## SA-01.csv: assistance households with assets
Columns: node_id, case_id, admdvs, program, cars, house_units, businesses, amount.
Rule: members with `status` 1 in programmes 01/02/03, per case: cars = their vehicles
with `status` A and `vehicle_type` not M% (motorcycles and mobility vehicles are
exempt); house_units = distinct units with no cancel_date and usage 10 or 20;
businesses = `business_person` roles 01/02/03 with no end_date in an entity with
status 01. A case is flagged when cars > 0, house_units > 1 or businesses > 0.
`amount` is the case's 01–03 payments in the window.
Look-alikes: EXEMPT_VEHICLE (a motorcycle), CANCELLED_VEHICLE, ONE_DWELLING,
CANCELLED_BUSINESS, NON_MEMBER_RELATIVE (a car owned by a relative who left the case,
member `status` 3).

## SA-03.csv: vulnerable persons not enrolled in a pension scheme (aggregate)
Columns: node_id, county, persons.
Rule: distinct persons with an assistance_member row of `status` 1, aged 16 or more on
the data-as-of date (completed years), counted per county (first 6 digits of admdvs)
when no `insured_person` row with scheme 110/120/170 exists for them in ANY node.
Pupils and students are not obliged to enrol; the standard datasets carry no school
column, so the rule treats members with relation 03 (child) aged 16 to 22 as students.
One row per node, county, label and reason, with the count of persons.
Look-alikes: STUDENT (as above, not enrolled), ENROLLED_ELSEWHERE (enrolled only in
another province: a province-only count includes them, a cross-node one does not).
"""
