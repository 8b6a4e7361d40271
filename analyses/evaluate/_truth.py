"""Ground truth of a synthetic federation and the scores of a flag model against it."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from analyses.errors import AnalysisError
from analyses.manifest import Model

__all__ = ["LABELS", "MIN_PRECISION", "SUBJECT_COLUMNS", "EvaluateError", "FlagScore", "Subject",
           "Truth", "data_as_of", "declared_reasons", "read_truth", "score_flags",
           "subject_key", "truth_path"]

#: A flag model passes with recall 1.0 and at least this precision.
MIN_PRECISION = 0.95
LABELS = ("anomaly", "lookalike")
#: Truth columns that name a flagged subject, in the order they are looked for.
SUBJECT_COLUMNS = ("id_no", "case_id")
_AS_OF = re.compile(r"data as of (\d{4}-\d{2}-\d{2})")
#: How a model names its part of a truth file it shares, in its notes or objective.
_REASON = r"[A-Z][A-Z0-9_]*\b"
_DECLARATION = re.compile(
    r"(?i:ground truth):\s*(?P<code>[A-Z]+-\d+[a-z]?)\s+(?i:reasons?)\s+"
    rf"(?P<reasons>(?i:none)\b|{_REASON}(?:\s*(?:,|\band\b)\s*{_REASON})*)")
Subject = tuple[str, str]  # (node id, subject key)


class EvaluateError(AnalysisError):
    """An evaluation that cannot start or read its inputs; the message says what to fix."""


# -- ground truth -------------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """One truth file: its anomaly subjects with their reasons, and its look-alikes."""

    path: Path
    key: str
    anomalies: Mapping[Subject, frozenset[str]]
    lookalikes: frozenset[Subject]

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every reason of the file's anomaly rows, sorted."""
        return tuple(sorted(set().union(*self.anomalies.values())))

    def anomalies_for(self, reasons: Collection[str] | None = None) -> set[Subject]:
        """The anomaly subjects with one of `reasons` (all of them when None)."""
        return {s for s, why in self.anomalies.items() if reasons is None or why & set(reasons)}


def subject_key(value: str | None, key: str) -> str:
    """A subject as the truth and the cases can both be compared: an ID number normalised
    to 18 characters when it is valid (15-digit numbers upgraded), else trimmed text."""
    from node.idno import normalise_one

    text = (value or "").strip()
    if key == "id_no":
        return normalise_one(text)[0] or text.upper()
    return text


def truth_path(truth_dir: Path, method_code: str) -> Path | None:
    """truth/<CODE>.csv for a method code, or for its base code (MED-02 for MED-02b)."""
    for code in dict.fromkeys((method_code, re.sub(r"[a-z]+$", "", method_code))):
        if (truth_dir / f"{code}.csv").is_file():
            return truth_dir / f"{code}.csv"
    return None


def read_truth(path: Path) -> Truth:
    """Reads a truth file (node_id, a subject column id_no or case_id, …, label, reason).

    Raises EvaluateError for a missing file, missing columns or an unknown label.
    """
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header, rows = reader.fieldnames or (), list(reader)
    except OSError as exc:
        raise EvaluateError(f"cannot read the truth file {path}: {exc.strerror}; write the "
                            "federation again with `fedaudit synth federation`") from None
    key = next((c for c in SUBJECT_COLUMNS if c in header), None)
    missing = [c for c in ("node_id", "label", "reason") if c not in header]
    missing += [] if key else [" or ".join(SUBJECT_COLUMNS)]
    if missing:
        raise EvaluateError(f"{path} has no column {', '.join(missing)}, so it is not a truth "
                            "file; write the federation again with `fedaudit synth federation`")
    anomalies: dict[Subject, set[str]] = {}
    lookalikes: set[Subject] = set()
    for line, row in enumerate(rows, start=2):
        if row["label"] not in LABELS:
            raise EvaluateError(f"{path}, line {line}: label {row['label']!r} is not one of "
                                f"{', '.join(LABELS)}")
        subject = (row["node_id"], subject_key(row[key], key))
        if row["label"] == "anomaly":
            anomalies.setdefault(subject, set()).add(row["reason"])
        else:
            lookalikes.add(subject)
    return Truth(path, key,
                 {s: frozenset(r) for s, r in anomalies.items()},
                 frozenset(lookalikes - set(anomalies)))


def declared_reasons(model: Model, code: str) -> tuple[str, ...] | None:
    """The truth reasons `model` declares it covers in file `code` ("Ground truth: CODE
    reasons A, B" in its notes or objective); () for "reasons none"; None if undeclared."""
    for text in (model.notes, model.objective):
        for match in _DECLARATION.finditer(" ".join(text.split())):
            if match["code"] == code:
                words = re.split(r"\s*(?:,|\band\b)\s*", match["reasons"])
                return () if words[0].lower() == "none" else tuple(words)
    return None


@dataclass(frozen=True)
class FlagScore:
    """A flag model's hits against a truth file; recall/precision None when undefined."""

    anomalies: int
    flagged: int
    found: int
    true_flags: int
    lookalikes: int
    lookalikes_flagged: int

    @property
    def recall(self) -> float | None:
        return round(self.found / self.anomalies, 4) if self.anomalies else None

    @property
    def precision(self) -> float | None:
        return round(self.true_flags / self.flagged, 4) if self.flagged else None

    @property
    def passed(self) -> bool:
        """Recall 1.0 (when there is anything to find) and precision >= MIN_PRECISION."""
        return (self.recall is None or self.recall >= 1.0) and \
            (self.precision is None or self.precision >= MIN_PRECISION)


def score_flags(flagged: Iterable[Subject], truth: Truth,
                reasons: Collection[str] | None = None) -> FlagScore:
    """Scores flagged (node, subject) pairs: recall on the anomalies of `reasons` (all
    when None), precision on every anomaly of the file, look-alikes flagged."""
    flagged = set(flagged)
    wanted = truth.anomalies_for(reasons)
    return FlagScore(anomalies=len(wanted), flagged=len(flagged),
                     found=len(flagged & wanted), true_flags=len(flagged & set(truth.anomalies)),
                     lookalikes=len(truth.lookalikes),
                     lookalikes_flagged=len(flagged & truth.lookalikes))


def data_as_of(federation_dir: Path) -> dt.date:
    """The data-as-of date of a synthetic federation, from the header comment of its
    federation.toml or from truth/README.md; raises EvaluateError if neither says it."""
    for path, comments_only in ((federation_dir / "federation.toml", True),
                                (federation_dir / "truth" / "README.md", False)):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            found = _AS_OF.search(line)
            if found and (line.startswith("#") or not comments_only):
                return dt.date.fromisoformat(found[1])
    raise EvaluateError(f"{federation_dir} does not say its data-as-of date (no 'data as of "
                        "YYYY-MM-DD' in the header of federation.toml or in truth/README.md); "
                        "write it again with `fedaudit synth federation`")
