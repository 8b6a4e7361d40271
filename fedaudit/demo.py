"""`fedaudit demo`: the whole rhythm on this machine, in one command.

It generates a synthetic federation, provisions it, ingests every node's data, starts a
real coordinator and real node processes on loopback (mutual TLS), runs every model of
the library nationwide as properly signed tasks with live progress, and prints what was
found. Everything is stopped at the end, also on Ctrl-C, unless --keep is given.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path

import click

from fedaudit.local import LocalFederation

#: Synthetic data runs to this month; "as of" parameters use the end of it.
DEMO_END = "2025-12"
DEMO_AS_OF = dt.date(2025, 12, 31)


def _say(message: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


def _parameters(model) -> dict | None:
    """Values for the model's required parameters, or None if the demo has none."""
    values = {}
    for parameter in model.parameters:
        if parameter.required:
            if parameter.type != "date" or parameter.name != "as_of":
                return None
            values[parameter.name] = DEMO_AS_OF
    return values


def _prepare_dir(directory: str | None) -> Path:
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="fedaudit-demo-"))
    root = Path(directory)
    if root.exists() and any(root.iterdir()):
        if not (root / "demo.json").exists():
            raise click.UsageError(f"{root} is not empty and holds no earlier demo; "
                                   "name an empty or new folder with --dir")
        shutil.rmtree(root)  # an earlier demo: start afresh
    root.mkdir(parents=True, exist_ok=True)
    return root


def run_demo(directory: str | None, provinces: int, seed: int, keep: bool,
             as_json: bool) -> dict:
    from analyses import load_library
    from analyses.synth import generate_federation

    started = time.monotonic()
    root = _prepare_dir(directory)
    (root / "demo.json").write_text(json.dumps({"provinces": provinces, "seed": seed}))
    _say(f"demo folder: {root}")
    world = generate_federation(root / "world", provinces=provinces, seed=seed, end=DEMO_END,
                                progress=lambda m: _say(f"synth: {m}"))
    federation = LocalFederation(root, progress=_say)
    federation.provision(world.out / "federation.toml")
    for node_id in federation.node_ids():
        rows = federation.ingest(node_id, list((world.out / node_id).glob("*.csv")))
        _say(f"ingested {rows:,} rows at {node_id}")
    summary: dict = {"folder": str(root), "tasks": []}
    kept = False
    try:
        federation.start()
        task_ids: dict[str, str] = {}  # model id -> task id, for models that build on it
        for model in load_library().models():
            params = _parameters(model)
            if params is None:
                _say(f"skipping {model.id}: it needs parameters the demo cannot choose")
                continue
            if model.builds_on is not None and model.builds_on.model in task_ids:
                prior = task_ids[model.builds_on.model]
                _say(f"{model.id} builds on task {prior[:8]} ({model.builds_on.model}): "
                     "waiting for every province to keep its answer")
                _wait_reports(federation, prior, lambda n: n["status"] != "not_reported")
                params[model.builds_on.parameter] = prior
            ran = _run_model(federation, model, params)
            if ran is not None:
                summary["tasks"].append(ran)
                task_ids[model.id] = ran["task_id"]
        flagged = [t for t in summary["tasks"] if t["opens_cases"] and t["state"] != "failed"]
        if flagged:
            _verification_round(federation, world.out / "truth", flagged)
        for task in summary["tasks"]:
            task.update(_findings(federation, task))
        summary["address"] = federation.address
        summary["seconds"] = round(time.monotonic() - started, 1)
        if not as_json:
            _print_findings(summary)
        if keep:
            _keep(federation, root, summary)
            kept = True
    finally:
        if not kept:  # also with --keep when the demo failed: nothing is left running
            federation.stop()
            _say("stopped the coordinator and every node")
    return summary


def _run_model(federation: LocalFederation, model, params: dict) -> dict | None:
    """Runs one model nationwide with live progress; None if the coordinator refuses it
    for this federation (e.g. a cross-province model with one province)."""
    from coordinator.errors import CoordinatorError

    task = federation.signed_task(model, params, purpose=f"demo: {model.title_en}")
    task_id = task.spec.task_id
    states: dict[str, str] = {}
    with federation.client() as client:
        try:
            client.submit(task)
        except CoordinatorError as exc:
            _say(f"skipping {model.id}: {exc}")
            return None
        _say(f"{model.id} {model.title_zh}: task {task_id[:8]} signed and submitted")
        for status in client.watch(task_id):
            for node in status.nodes:
                if states.get(node.node_id) != node.state:
                    states[node.node_id] = node.state
                    detail = node.refusal_code or (f"{node.rows} rows" if node.rows else "")
                    _say(f"    {node.node_id:11} {node.state} {detail}".rstrip())
            final = status
    return {
        "task_id": task_id, "analysis": model.id, "method_code": model.method_code,
        "title_zh": model.title_zh, "title_en": model.title_en, "kind": model.kind,
        "opens_cases": model.linkage is not None and model.linkage.resolves,
        "state": final.state,
        "nodes": {n.node_id: n.refusal_code or n.state for n in final.nodes},
    }


def _findings(federation: LocalFederation, task: dict) -> dict:
    """The task's result rows and finding lines (with verification, for flags)."""
    from analyses import load_library
    from coordinator.findings import places_from_roster
    from coordinator.findings_cli import findings_text
    from coordinator.verification import findings_of

    model = load_library().get(task["analysis"])
    places = places_from_roster(federation.kit("hq-lead").roster())
    verification = None
    with federation.client() as client:
        provenance, table = client.fetch_result(task["task_id"])
        if task["kind"] == "flags" and "linkage" in provenance:
            verification = client.verification(task["task_id"])
    findings, shown = findings_of(table, provenance, model, places, verification)
    return {"rows": shown.to_pylist() if shown is not None else [],
            "findings": findings_text(findings), "notes": provenance.get("notes", ""),
            "verification": verification}


def _verification_round(federation: LocalFederation, truth_dir: Path, tasks: list[dict],
                        timeout: float = 120) -> None:
    """Each province opens its cases; then field verification, SIMULATED from the synthetic
    ground truth, resolves them: a planted case is confirmed, anything else excluded."""
    from analyses.evaluate import read_truth, subject_key, truth_path
    from node.cases import CaseStore
    from node.home import NodeHome

    _say("verification round: each province re-identifies its own leads and opens cases")
    for task in tasks:
        _wait_reports(federation, task["task_id"], lambda n: n["status"] != "not_reported",
                      timeout)
    _say("field verification (SIMULATED from the synthetic ground truth, 模拟核实)")
    for task in tasks:
        path = truth_path(truth_dir, task["method_code"])
        truth = read_truth(path) if path is not None else None
        planted = truth.anomalies_for() if truth is not None else set()
        for node_id in federation.node_ids():
            with CaseStore.at_home(NodeHome.open(federation.home(node_id))) as store:
                for case in store.cases(task_id=task["task_id"], status="open"):
                    key = subject_key(case.subject_id, truth.key) if truth else case.subject_id
                    if (node_id, key) in planted:
                        store.resolve(case.case_id, "confirmed", resolved_by="demo",
                                      note="simulated from the synthetic ground truth")
                    else:
                        store.resolve(case.case_id, "excluded", reason="other",
                                      resolved_by="demo", note="simulated from the synthetic "
                                      "ground truth: not a planted case")
    for task in tasks:
        _wait_reports(federation, task["task_id"], lambda n: n["status"] == "verified", timeout)
        _say(f"    {task['analysis']}: verified at every province")


def _wait_reports(federation: LocalFederation, task_id: str, ready,
                  timeout: float = 120) -> None:
    try:
        federation.wait_reported(task_id, timeout, ready)
    except TimeoutError as exc:
        raise click.ClickException(str(exc)) from None


def _print_findings(summary: dict) -> None:
    click.echo("")
    click.echo("Findings (synthetic data) / 审计发现（模拟数据）")
    click.echo("Verification outcomes are simulated from the synthetic ground truth "
               "(核实结果为模拟).")
    click.echo("=" * 72)
    for task in summary["tasks"]:
        click.echo("")
        for line in task["findings"]:
            click.echo(line)
    click.echo(f"\nDone in {summary['seconds']} s. With --keep, read any result again with "
               "`fedaudit results findings TASK_ID` or `results report TASK_ID --out r.html`.")


def _keep(federation: LocalFederation, root: Path, summary: dict) -> None:
    pids = federation.pids()
    (root / "pids").write_text(" ".join(map(str, pids)) + "\n")
    kit = federation.kits / "hq-lead"
    click.echo(f"""
The federation keeps running (coordinator at {federation.address}). Try:

  export FEDAUDIT_KIT={kit}
  fedaudit nodes --coordinator {federation.address}
  fedaudit task new fund.benefit_summary --target level=province --purpose "my audit" \\
      --kit {kit} --out {root}/my-task.json
  fedaudit task sign {root}/my-task.json --kit {kit}
  fedaudit task submit {root}/my-task.json --coordinator {federation.address}
  fedaudit task watch TASK_ID --coordinator {federation.address}
  fedaudit results show TASK_ID --coordinator {federation.address}

Linkage and flags tasks (e.g. pension.paid_after_death) open cases at the provinces:

  fedaudit node cases list --home {root}/homes/gd
  fedaudit node cases resolve CASE_ID --outcome confirmed --home {root}/homes/gd
  fedaudit results verification TASK_ID --coordinator {federation.address}

Node homes are in {root}/homes (e.g. fedaudit node log show --home {root}/homes/gd).
Stop everything with: kill {' '.join(map(str, pids))}""")


@click.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Where to build the demo federation (default: a new temporary folder).")
@click.option("--provinces", default=6, show_default=True, type=click.IntRange(1, 31),
              help="How many provinces (the most populous first).")
@click.option("--seed", default=1, show_default=True, help="Seed of the synthetic data.")
@click.option("--keep", is_flag=True, help="Leave the federation running and say how to use it.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
def demo(directory, provinces, seed, keep, as_json) -> None:
    """Run the whole audit rhythm on this machine with synthetic data.

    Builds a federation of provinces and national registries, starts a real coordinator
    and real node processes over mutual TLS on loopback, runs every library model
    nationwide as signed tasks, lets each province open cases for its flagged persons,
    resolves them in a field verification SIMULATED from the synthetic ground truth, and
    prints the findings. Progress goes to stderr.
    """
    try:
        summary = run_demo(directory, provinces, seed, keep, as_json)
    except KeyboardInterrupt:
        _say("interrupted: everything was stopped")
        raise SystemExit(130) from None
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, default=str, indent=2))
