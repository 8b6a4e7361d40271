"""Runs the models on a local federation of real processes and measures each one."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from analyses.errors import AnalysisError
from analyses.evaluate._text import number_text
from analyses.evaluate._totals import compare_totals, union_result
from analyses.evaluate._truth import (
    EvaluateError,
    Subject,
    data_as_of,
    declared_reasons,
    read_truth,
    score_flags,
    subject_key,
    truth_path,
)
from analyses.manifest import Model

__all__ = ["TASK_TIMEOUT", "VERIFICATION_TIMEOUT", "evaluate_federation", "model_parameters"]

#: How long to wait for one task to finish, and then for its verification reports.
TASK_TIMEOUT = 900.0
VERIFICATION_TIMEOUT = 180.0
Progress = Callable[[str], None]


def model_parameters(model: Model, as_of: dt.date) -> dict[str, object] | None:
    """Parameter values for a nationwide run: `as_of` (a date) set to the data-as-of date,
    every other parameter its default; None if the model requires another parameter."""
    values: dict[str, object] = {}
    for parameter in model.parameters:
        if parameter.name == "as_of" and parameter.type == "date":
            values["as_of"] = as_of
        elif parameter.required:
            return None
    return values


def _select(models: list[Model], wanted: Sequence[str] | None) -> list[Model]:
    """The models to run, in order; a model that builds on another comes after it (the
    other is added when not wanted itself)."""
    known = {m.id: m for m in models}
    unknown = [w for w in wanted or () if w not in known]
    if unknown:
        raise EvaluateError(f"no model {unknown[0]!r} in the library; the models are "
                            f"{', '.join(sorted(known))} (see `fedaudit analyses list`)")
    ordered: dict[str, Model] = {}
    for model in (known[w] for w in dict.fromkeys(wanted)) if wanted else models:
        if model.builds_on is not None and model.builds_on.model in known:
            ordered.setdefault(model.builds_on.model, known[model.builds_on.model])
        ordered.setdefault(model.id, model)
    return list(ordered.values())


def _work_folder(work: Path | None) -> Path:
    if work is None:
        return Path(tempfile.mkdtemp(prefix="fedaudit-evaluate-"))
    if work.exists() and (not work.is_dir() or any(work.iterdir())):
        raise EvaluateError(f"{work} is not an empty folder; name a new or empty folder with "
                            "--work, or leave it out to use a temporary one")
    work.mkdir(parents=True, exist_ok=True)
    return work


def _check_federation(federation_dir: Path) -> None:
    for needed in ("federation.toml", "truth"):
        if not (federation_dir / needed).exists():
            raise EvaluateError(f"{federation_dir} has no {needed}, so it is not a synthetic "
                                "federation; write one with `fedaudit synth federation --out "
                                f"{federation_dir}`")


def evaluate_federation(federation_dir: Path, *, work: Path | None = None,
                        model_ids: Sequence[str] | None = None,
                        progress: Progress = lambda _: None,
                        task_timeout: float = TASK_TIMEOUT,
                        verification_timeout: float = VERIFICATION_TIMEOUT) -> dict[str, Any]:
    """Runs every library model (or `model_ids`) over the federation in `federation_dir`.

    The federation is provisioned into `work` (a new or empty folder, kept) or a temporary
    folder (removed at the end); every process is stopped at the end, also on errors and
    Ctrl-C. Returns the report: federation, as_of, work (None when removed), ok (no flag
    model below recall 1.0 or precision MIN_PRECISION, no task failed) and models, one dict
    per model (see `_run_model`). Raises EvaluateError when the folder is not a synthetic
    federation, a model id is unknown, `work` is not empty, or a process does not start
    (the work folder is then kept and the message names the log to read); NodeError when
    a node's CSV file does not ingest.
    """
    from analyses.library import load_library
    from fedaudit.local import LocalFederation

    federation_dir = Path(federation_dir)
    _check_federation(federation_dir)
    as_of = data_as_of(federation_dir)
    library = load_library().models()
    models = _select(library, model_ids)
    root = _work_folder(work)
    keep = work is not None
    entries: list[dict[str, Any]] = []
    try:
        federation = LocalFederation(root, progress=progress)
        federation.provision(federation_dir / "federation.toml")
        for node_id in federation.node_ids():
            files = list((federation_dir / node_id).glob("*.csv"))
            if not files:
                raise EvaluateError(f"{federation_dir / node_id} holds no CSV file for node "
                                    f"{node_id}; write the federation again")
            progress(f"ingested {federation.ingest(node_id, files):,} rows at {node_id}")
        try:
            federation.start()
            ran: dict[str, str] = {}  # model id -> task id, for the models that build on it
            for model in models:
                entries.append(_run_model(federation, model, as_of, federation_dir / "truth",
                                          library, progress, task_timeout,
                                          verification_timeout, ran))
        except RuntimeError as exc:  # a process did not start: keep its log
            keep = True
            raise EvaluateError(f"{exc}\n(the work folder {root} is kept for its logs)") from None
        finally:
            federation.stop()
            progress("stopped the coordinator and every node")
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    _note_shared_truth(entries)
    return {"federation": str(federation_dir), "as_of": as_of.isoformat(),
            "work": str(root) if work is not None else None,
            "ok": all(e["ok"] is not False for e in entries), "models": entries}


def _wait_final(client, task_id: str, timeout: float, progress: Progress):
    states: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(task_id)
        for node in status.nodes:
            if states.get(node.node_id) != node.state:
                states[node.node_id] = node.state
                detail = node.refusal_code or (f"{node.rows} rows" if node.rows else "")
                progress(f"    {node.node_id:11} {node.state} {detail}".rstrip())
        if status.state != "running":
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"task {task_id} did not finish within {timeout:.0f} s")
        time.sleep(0.3)


def _flagged(federation, task_id: str, key: str) -> set[Subject]:
    from node.cases import CASES_FILE, CaseStore

    flagged = set()
    for node_id in federation.node_ids():
        path = federation.home(node_id) / CASES_FILE
        if path.is_file():
            with CaseStore(path) as store:
                flagged |= {(node_id, subject_key(c.subject_id, key))
                            for c in store.cases(task_id=task_id)}
    return flagged


def _run_model(federation, model: Model, as_of: dt.date, truth_dir: Path,
               library: list[Model], progress: Progress, task_timeout: float,
               verification_timeout: float, ran: dict[str, str]) -> dict[str, Any]:
    """Runs one model and measures it. The dict has id, method_code, kind, title_en,
    state, seconds, check (a word), recall, precision, anomalies, found, flagged,
    lookalikes, lookalikes_flagged, totals (aggregates), truth, reasons, notes, ok.

    `ran` maps the models run so far to their task ids; a model that builds on one of them
    names that task (once every node processed its return)."""
    entry: dict[str, Any] = {
        "id": model.id, "method_code": model.method_code, "kind": model.kind,
        "title_en": model.title_en, "state": None, "seconds": None, "check": "",
        "recall": None, "precision": None, "anomalies": None, "found": None, "flagged": None,
        "lookalikes": None, "lookalikes_flagged": None, "totals": [], "truth": None,
        "reasons": None, "notes": [], "ok": None}
    params = model_parameters(model, as_of)
    if params is None:
        entry.update(check="skipped", notes=["it requires parameters evaluate cannot choose"])
        progress(f"skipping {model.id}: it requires parameters evaluate cannot choose")
        return entry
    from coordinator.errors import CoordinatorError

    prior = ran.get(model.builds_on.model) if model.builds_on is not None else None
    if prior is not None:
        params[model.builds_on.parameter] = prior
        entry["notes"].append(f"builds on task {prior[:8]} ({model.builds_on.model})")
    task = federation.signed_task(model, params, purpose=f"evaluate: {model.title_en}")
    task_id = task.spec.task_id
    progress(f"{model.id} {model.title_zh}: task {task_id[:8]} signed and submitted")
    started = time.monotonic()

    def clock() -> None:  # the federated part is over; local checks are not timed
        entry["seconds"] = round(time.monotonic() - started, 1)

    try:
        if prior is not None:
            federation.wait_reported(prior, verification_timeout)
        with federation.client() as client:
            client.submit(task)
            status = _wait_final(client, task_id, task_timeout, progress)
            entry["state"] = status.state
            entry["notes"] += [f"{n.node_id}: {n.state} {n.refusal_code}".rstrip()
                               for n in status.nodes if n.state != "done"]
            if status.state == "failed":
                raise RuntimeError(f"the task failed: {status.message or 'see the notes'}")
            ran[model.id] = task_id
            if model.kind == "flags":
                _measure_flags(entry, federation, client, model, task_id, truth_dir, library,
                               verification_timeout, clock)
            elif model.kind == "aggregate":
                _measure_aggregate(entry, federation, client, model, task_id, params, clock)
            else:
                clock()
                entry.update(check="not measured")
                entry["notes"].append(f"{model.kind} results have no truth to compare with")
    except (TimeoutError, RuntimeError, AnalysisError, CoordinatorError) as exc:
        entry.update(check="error", ok=False)
        entry["notes"].append(str(exc))
    if entry["seconds"] is None:
        clock()
    progress(f"{model.id}: {entry['check']} ({entry['seconds']} s)")
    return entry


def _measure_flags(entry: dict, federation, client, model: Model, task_id: str,
                   truth_dir: Path, library: list[Model], timeout: float,
                   clock: Callable[[], None]) -> None:
    if model.linkage is None:
        clock()
        entry.update(check="not measured")
        entry["notes"].append("it has no [linkage], so no node opens cases to count")
        return
    summary = federation.wait_reported(task_id, timeout)
    clock()
    if not model.linkage.resolves:
        found = sum(n.get("leads") or 0 for n in summary.get("nodes") or ())
        entry.update(check="not measured")
        entry["notes"].append(f"a {model.linkage.pattern} model opens no cases: the nodes kept "
                              f"{found} answers for the models that build on it")
        return
    path = truth_path(truth_dir, model.method_code)
    if path is None:
        entry.update(check="no truth")
        entry["notes"].append(f"no truth file for {model.method_code} in {truth_dir}")
        return
    truth = read_truth(path)
    code = path.stem
    reasons = declared_reasons(model, code)
    unknown = sorted(set(reasons or ()) - set(truth.reasons))
    if unknown:
        entry["notes"].append(f"declares truth reasons {', '.join(unknown)}, which "
                              f"{path.name} does not have (it has {', '.join(truth.reasons)})")
    flagged = _flagged(federation, task_id, truth.key)
    score = score_flags(flagged, truth, reasons)
    sharing = [m.id for m in library if m.id != model.id and m.kind == "flags"
               and truth_path(truth_dir, m.method_code) == path]
    if sharing and reasons is None:
        entry["notes"].append(
            f"{path.name} is shared with {', '.join(sharing)}: measured against all its "
            f"anomalies; to measure this model on its part, add to its notes \"Ground truth: "
            f"{code} reasons A, B.\" with reasons of the file ({', '.join(truth.reasons)})")
    elif reasons is not None:
        entry["notes"].append(f"measured on {code} reasons {', '.join(reasons) or 'none'}, "
                              "as its notes declare")
    entry.update(truth=path.name, reasons=list(reasons) if reasons is not None else None,
                 anomalies=score.anomalies, found=score.found, flagged=score.flagged,
                 recall=score.recall, precision=score.precision, lookalikes=score.lookalikes,
                 lookalikes_flagged=score.lookalikes_flagged, ok=score.passed,
                 check=f"{score.found} of {score.anomalies} found, {score.flagged} flagged",
                 _flagged=flagged, _truth=truth)


def _measure_aggregate(entry: dict, federation, client, model: Model, task_id: str,
                       params: Mapping[str, object], clock: Callable[[], None]) -> None:
    from node.catalog import Catalog
    from node.home import NodeHome

    provenance, table = client.fetch_result(task_id)
    clock()
    suppressed = any(sum((node.get("disclosure") or {}).get("suppressed", {}).values())
                     for node in provenance.get("nodes") or ())
    roster = federation.kit("hq-lead").roster()
    bound = model.bind_parameters(params)
    direct = []
    for level in model.levels:
        snapshots = []
        for node in (n for n in roster.nodes() if n.level == level):
            catalog = Catalog.load(NodeHome.open(federation.home(node.id)).data_dir)
            records = {ds: catalog.current(ds) for ds in model.datasets[level]}
            if all(records.values()):
                snapshots.append({ds: catalog.path_of(r) for ds, r in records.items()})
            else:
                entry["notes"].append(f"{node.id} lacks a dataset of {model.id}; left out of "
                                      "the direct computation")
        if snapshots:
            direct.append(union_result(model, level, snapshots, bound))
    table = table if table is not None else pa.table({})
    columns = [c.name for c in model.output.columns if c.role in ("count", "measure")]
    dimensions = [c.name for c in model.output.by_role("dimension")]
    count = next((c.name for c in model.output.by_role("count")), None)
    verdict, totals = compare_totals(table, direct, columns, dimensions, count=count,
                                     suppressed=suppressed)
    for total in totals:  # JSON-ready: decimals as their exact text
        for side, value in total.items():
            if isinstance(value, Decimal):
                total[side] = str(value)
    entry.update(check=verdict, totals=totals)
    if verdict == "lower bound":
        entry["notes"].append("some node suppressed cells, so the federated totals are lower "
                              "bounds; the released cells' totals equal the direct ones")
    for total in totals:
        if total["equal"] is False and "released_equal" not in total:
            entry["notes"].append(f"{total['column']}: federated {total['federated']}, direct "
                                  f"{total['direct']}")
        if total.get("released_equal") is False:
            entry["notes"].append(f"{total['column']} in the released cells: federated "
                                  f"{total['released_federated']}, direct "
                                  f"{total['released_direct']}")


def _note_shared_truth(entries: list[dict[str, Any]]) -> None:
    """Notes, for flag models sharing a truth file that one of them does not split by
    reason, the recall of all of them together; drops the entries' internal fields."""
    groups: dict[str, list[dict]] = {}
    for entry in entries:
        if entry.get("_truth") is not None:
            groups.setdefault(entry["truth"], []).append(entry)
    for members in groups.values():
        if len(members) > 1 and any(m["reasons"] is None for m in members):
            together = score_flags(set().union(*(m["_flagged"] for m in members)),
                                   members[0]["_truth"])
            ids = ", ".join(m["id"] for m in members)
            for m in members:
                m["notes"].append(f"{ids} together: recall {number_text(together.recall)}, "
                                  f"precision {number_text(together.precision)}")
    for entry in entries:
        entry.pop("_flagged", None)
        entry.pop("_truth", None)
