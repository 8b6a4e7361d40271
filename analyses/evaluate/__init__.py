"""Measures every library model on a synthetic federation: recall and precision of the flag
models against the federation's ground truth, and the aggregate models against a direct
DuckDB computation over the union of the nodes' data (issue #7, point 3).

`evaluate_federation` provisions a federation written by `fedaudit synth federation` into a
work folder, ingests every node's CSV files, starts a real coordinator and real node
processes (`fedaudit.local.LocalFederation`), runs each model nationwide as a properly
signed task (its ``as_of`` parameter, if any, set to the federation's data-as-of date,
every other parameter its default) and always stops every process at the end.

**Flag models** (output kind ``flags`` with a ``[linkage]`` table) are measured on the
cases the nodes open: once every receiving node has reported its verification, the set
of (node, subject_id) of the task's cases at every node is compared with
``truth/<METHOD_CODE>.csv`` (a method code such as ``MED-02b`` falls back to
``MED-02.csv``); ID numbers are compared normalised. Recall is the share of the truth's
``anomaly`` subjects the model flagged; precision the share of flagged subjects that are
anomalies of the file (of any reason); look-alikes flagged counts flagged ``lookalike``
subjects. A truth file covered by several models is split by reason: a model names its
part with one sentence in its manifest ``notes``, e.g. ``Ground truth: UNE-01 reasons
EMPLOYED, RECEIVING_PENSION.`` (or ``reasons none``); without it the model is measured on
all the file's anomalies and the report says so, with the recall of the models that share
the file together.

**Aggregate models** are compared with the same node SQL (`Model.sql`, declared columns
only) run once per level over the union of every node's current snapshots of that level,
as ingest wrote them from the CSV files (standard types, normalised IDs): the national
totals of the count and measure columns must be equal. A cell some node suppressed makes
the federated totals a lower bound; columns the node SQL leaves empty (filled by the
combine step at HQ, e.g. z-scores) are not compared.
"""

from analyses.evaluate._run import TASK_TIMEOUT, VERIFICATION_TIMEOUT, evaluate_federation
from analyses.evaluate._text import format_report
from analyses.evaluate._totals import compare_totals, union_result
from analyses.evaluate._truth import (
    MIN_PRECISION,
    EvaluateError,
    FlagScore,
    Truth,
    data_as_of,
    declared_reasons,
    read_truth,
    score_flags,
    subject_key,
    truth_path,
)

__all__ = ["MIN_PRECISION", "TASK_TIMEOUT", "VERIFICATION_TIMEOUT", "EvaluateError", "FlagScore",
           "Truth", "compare_totals", "data_as_of", "declared_reasons",
           "evaluate_federation", "format_report", "read_truth", "score_flags",
           "subject_key", "truth_path", "union_result"]
