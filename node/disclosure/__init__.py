"""The node's disclosure engine: every output passes `apply_disclosure` before it may leave.

``apply_disclosure(model, table, policy)`` returns a `Disclosed` (table and summary) or
raises `DisclosureError` when the output must not leave at all. The policy is the node's
``[disclosure]`` section (`node.policy.DisclosurePolicy`); HQ never sets it.

**Every kind.** Only the manifest's declared output columns leave, in order. A column
that is local-only in any dataset standard the model reads, a declared column missing or
of another type, a text value longer than ``max_string_length`` or more than ``max_rows``
rows refuse the whole output: the engine refuses rather than truncates.

**Aggregates.** The ``count`` column is the number of distinct persons in each cell.

* Primary suppression: a cell with ``0 < count < min_contributors`` (or ``count == 0``
  when ``zeros = "disclosive"``), or one that fails the dominance or p% rule, has its
  count and every measure set to NULL. The row stays, and the engine's marker column
  ``disclosure`` (VARCHAR, after the declared columns) says ``"primary"``; released rows
  have NULL there.
* Dominance and p% rule, for each measure the manifest marks ``dominance = true`` (see
  ``analyses.manifest``): for a measure ``amount`` the node SQL also returns
  ``amount__top1`` and ``amount__top2``, the largest and the
  second-largest absolute contribution of one person to the cell (the sum over the
  person's rows, then ``abs``; NULL when the cell has fewer persons). With both present
  the engine applies (n, k) dominance (n = 1 or 2) and, when ``p_percent > 0``, the p%
  rule, judged against ``abs(amount)``. Helper columns are always dropped before release.
  In DuckDB::

      WITH per_person AS (
          SELECT scheme_code, id_no, sum(amount) AS amount FROM benefit_payment
          GROUP BY scheme_code, id_no)
      SELECT scheme_code, count(*) AS persons, sum(amount) AS amount,
             max(abs(amount)) AS amount__top1,
             list_sort(list(abs(amount)), 'DESC')[2] AS amount__top2
      FROM per_person GROUP BY scheme_code

* Secondary suppression within one result. A NULL dimension value marks a total over that
  dimension (1-D with total, 2-D with margins and grand total, and so on); a region
  dimension (``region``, ``admdvs``, ``*_admdvs``, or named by the caller's
  ``hierarchies={"column": "region"}``) holding 6-digit GB/T 2260 codes makes a province
  the sum of its cities and a city the sum of its counties present in the table. Each
  such equation that holds exactly on a column's values is used for that column (the
  count and each measure). The engine then suppresses further cells, marked
  ``"secondary"``, until no suppressed value is determined by the released ones, checked
  in exact arithmetic (row space of the equations, plus cells pinned at zero by
  non-negativity); each round hides the released cell with the smallest count in an
  equation that determines a cell.
* The summary gives the settings, the number of cells, primary and secondary
  suppressions, hits per rule, the measures checked for dominance and the equations
  found.

**Tokens and flags.** Only the token and attribute columns leave. A ``tokens`` output is
de-duplicated; both kinds are padded with random dummy tokens of the real tokens' format
(64 hex characters by default) to the next multiple of ``token_bucket`` (at least one
bucket), each dummy's attributes copied from a random real row, rows sorted by token. The
summary's ``public`` part has the padded size and the bucket; the exact counts sit under
``local``, which the caller keeps in the node's log and strips
(`Disclosed.public_summary`) before anything leaves.
"""

from node.disclosure._aggregate import MARKER_COLUMN, PRIMARY, SECONDARY, helper_columns
from node.disclosure._engine import Disclosed, apply_disclosure
from node.disclosure._errors import DisclosureError
from node.disclosure._rules import (
    RULES,
    dominance_from_top,
    dominance_sensitive,
    p_percent_from_top,
    p_percent_sensitive,
    threshold_rule,
)
from node.disclosure._structure import Equation, find_equations
from node.disclosure._tokens import MIN_TOKEN_LENGTH, token_format

__all__ = [
    "MARKER_COLUMN",
    "MIN_TOKEN_LENGTH",
    "PRIMARY",
    "RULES",
    "SECONDARY",
    "Disclosed",
    "DisclosureError",
    "Equation",
    "apply_disclosure",
    "dominance_from_top",
    "dominance_sensitive",
    "find_equations",
    "helper_columns",
    "p_percent_from_top",
    "p_percent_sensitive",
    "threshold_rule",
    "token_format",
]
