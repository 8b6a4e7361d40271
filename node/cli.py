"""`fedaudit node …`: set up a node home and inspect what the node decides."""

from __future__ import annotations

import json

import click

from node.errors import NodeError, Refusal
from node.home import NodeHome, init_home

HOME_OPTION = click.option(
    "--home", "home", required=True, type=click.Path(file_okay=False),
    help="The node's home directory (made by `fedaudit node init`).",
)


@click.group()
def node() -> None:
    """Run a node: set up its home, check tasks, read its audit log."""


@node.command("init")
@click.option("--kit", "kit", required=True, type=click.Path(exists=True, file_okay=False),
              help="This node's kit folder from `fedaudit certs provision`.")
@HOME_OPTION
@click.option("--force", is_flag=True,
              help="Rewrite kit, policy and trust list of an existing home (keeps data and log).")
def init_command(kit: str, home: str, force: bool) -> None:
    """Create a node home from a node kit, with a safe default policy.

    The trust list is filled with the roster's issuers; edit policy.toml and
    trust.toml in the home to tighten what this node accepts.
    """
    created = init_home(kit, home, force=force)
    node_kit = created.kit
    click.echo(f"node home ready: {created.path}")
    click.echo(f"  node {node_kit.party_id} ({node_kit.level}, region {node_kit.region}) "
               f"in federation {node_kit.federation}")
    click.echo(f"  policy: {created.policy_path}   trust list: {created.trust_path}")


@node.command("check-task")
@click.argument("task_file", type=click.Path(dir_okay=False))
@HOME_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def check_task_command(task_file: str, home: str, as_json: bool) -> None:
    """Dry-run a task file through this node's verification pipeline.

    Exit 0 and ACCEPTED, or exit 1 with the refusal code and the reason. Nothing is
    executed and the task id is not consumed; the decision is written to the audit log.
    """
    from node.runner import check_task, missing_datasets

    node_home = NodeHome.open(home)
    try:
        accepted = check_task(node_home, task_file)
    except Refusal as refusal:
        _print_decision(as_json, {"decision": "REFUSED", "code": refusal.code,
                                  "reason": refusal.reason, "task_file": task_file})
        raise SystemExit(1) from None
    _print_decision(as_json, {
        "decision": "ACCEPTED", "task_id": accepted.spec.task_id,
        "analysis": f"{accepted.spec.analysis_id}@{accepted.spec.analysis_version}",
        "signers": list(accepted.signers),
        "missing_datasets": missing_datasets(node_home, accepted),
    })


def _print_decision(as_json: bool, decision: dict) -> None:
    if as_json:
        click.echo(json.dumps(decision, ensure_ascii=False))
    elif decision["decision"] == "ACCEPTED":
        click.echo(f"ACCEPTED  task {decision['task_id']} ({decision['analysis']}), "
                   f"signed by {', '.join(decision['signers'])}")
        if decision["missing_datasets"]:
            click.echo(f"note: {', '.join(decision['missing_datasets'])} not ingested yet at this "
                       "node; the task would be refused MISSING_DATASET if delivered now")
    else:
        click.echo(f"REFUSED  {decision['code']}: {decision['reason']}")


@node.command("run-task")
@click.argument("task_file", type=click.Path(exists=True, dir_okay=False))
@HOME_OPTION
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Where to write the signed result bundle for HQ.")
def run_task_command(task_file: str, home: str, out: str) -> None:
    """Run a task file offline (an air-gapped node), with every check of a delivery.

    Writes a result bundle (the output and the node's signed receipt) to carry to HQ,
    where `fedaudit results import` adds it. The task id is used up, as online.
    """
    from pathlib import Path

    from analyses.tasks import TaskFileError, load_task
    from node.runner import Runner

    runner = Runner(NodeHome.open(home))
    try:
        task = load_task(task_file)
        task_id = task.spec.task_id
    except TaskFileError as exc:
        raise Refusal("BAD_SIGNATURE", str(exc)) from exc
    if not runner.outbox.has_report(task_id):
        try:
            runner.execute(runner.accept(task))
        except Refusal as refusal:
            if not runner.outbox.has_report(task_id):
                click.echo(f"REFUSED  {refusal.code}: {refusal.reason}", err=True)
                raise SystemExit(1) from None
    report = runner.outbox.report(task_id)
    if report["status"] != "done":
        click.echo(f"FAILED  {report['message']}", err=True)
        raise SystemExit(1)
    runner.outbox.write_bundle(task_id, task.to_json(), runner.kit.party_id, Path(out))
    click.echo(f"wrote {out}: task {task_id}, {report['rows']} rows, signed by "
               f"{runner.kit.party_id}; import it at HQ with `fedaudit results import {out}`")


@node.command("start")
@HOME_OPTION
@click.option("--coordinator", "address", default=None,
              help="host:port of the coordinator (default: the address in the node's kit).")
def start_command(home: str, address: str | None) -> None:
    """Run the node daemon until interrupted (Ctrl-C or SIGTERM).

    The node dials out to the coordinator (it opens no port), verifies every delivered
    task against its trust list and policy, runs accepted ones on its own data and
    reports back. It reconnects with backoff when the connection drops.
    """
    import signal
    import threading

    from node.daemon import NodeDaemon

    daemon = NodeDaemon(NodeHome.open(home), address)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    worker = threading.Thread(target=daemon.run, name="node-daemon", daemon=True)
    worker.start()
    click.echo(json.dumps({"event": "started", "node_id": daemon.kit.party_id,
                           "coordinator": daemon.address}), nl=True)
    while not stopped.wait(0.5):
        if not worker.is_alive():
            raise SystemExit(1)
    daemon.stop()
    worker.join(timeout=10)


@node.command("pending")
@HOME_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def pending_command(home: str, as_json: bool) -> None:
    """List outputs held for manual release (policy [release] says "manual")."""
    from node.runner import Runner

    runner = Runner(NodeHome.open(home))
    held = [{"task_id": t, "rows": runner.outbox.report(t).get("rows")}
            for t in runner.outbox.held()]
    if as_json:
        click.echo(json.dumps(held))
    elif not held:
        click.echo("nothing waits for release")
    for item in [] if as_json else held:
        click.echo(f"{item['task_id']}  {item['rows']} rows  (preview, then release or withhold)")


@node.command("preview")
@click.argument("task_id")
@HOME_OPTION
@click.option("--limit", default=50, show_default=True, help="Rows to print.")
def preview_command(task_id: str, home: str, limit: int) -> None:
    """Show exactly what would leave the node for a held task: every column and row."""
    from node.arrow_stream import read_ipc
    from node.runner import Runner

    outbox = Runner(NodeHome.open(home)).outbox
    if task_id not in outbox.held():
        raise NodeError(f"task {task_id} has no output waiting for release; "
                        "see `fedaudit node pending`")
    table = read_ipc([outbox.output_path(task_id).read_bytes()])
    receipt = json.loads(outbox.receipt(task_id)[0])
    click.echo(f"task {task_id}: {table.num_rows} rows would leave; disclosure "
               f"{json.dumps(receipt.get('disclosure'), ensure_ascii=False)}")
    click.echo("\t".join(table.column_names))
    for row in table.to_pylist()[:limit]:
        click.echo("\t".join("" if v is None else str(v) for v in row.values()))
    if table.num_rows > limit:
        click.echo(f"… {table.num_rows - limit} more rows")


@node.command("release")
@click.argument("task_id")
@HOME_OPTION
def release_command(task_id: str, home: str) -> None:
    """Release a held output: the running node sends it to the coordinator."""
    _decide(home, task_id, release=True, reason="")


@node.command("withhold")
@click.argument("task_id")
@HOME_OPTION
@click.option("--reason", required=True, help="Why the output does not leave (HQ sees this).")
def withhold_command(task_id: str, home: str, reason: str) -> None:
    """Withhold a held output: HQ sees the task failed at this node, with the reason."""
    _decide(home, task_id, release=False, reason=reason)


def _decide(home: str, task_id: str, *, release: bool, reason: str) -> None:
    from node.runner import Runner

    runner = Runner(NodeHome.open(home))
    event = "output.released" if release else "output.withheld"
    if task_id not in runner.outbox.held():
        raise NodeError(f"task {task_id} has no output waiting for release; "
                        "see `fedaudit node pending`")
    runner.audit.append(event, task_id=task_id, reason=reason or None)
    runner.outbox.decide(task_id, release, reason)
    verb = "released" if release else "withheld"
    click.echo(f"{verb} task {task_id}; the running node sends the decision to the coordinator")


@node.group("policy")
def policy_group() -> None:
    """Read the node's policy."""


@policy_group.command("show")
@HOME_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the effective settings as JSON.")
def policy_show(home: str, as_json: bool) -> None:
    """Print the effective policy: the file's values with defaults filled in."""
    from dataclasses import asdict

    policy = NodeHome.open(home).policy()
    settings = {k: v for k, v in asdict(policy).items() if k != "disclosure"}
    settings.update(policy.disclosure.settings())
    if as_json:
        click.echo(json.dumps(settings, ensure_ascii=False, indent=2))
        return
    for key, value in settings.items():
        if key in ("disclosure", "release"):
            for name, item in value.items():
                click.echo(f"{key + '.' + name:28} {item}")
            continue
        if isinstance(value, dict):
            value = "; ".join(f"{kind}: {' + '.join(roles)}" for kind, roles in value.items())
        elif isinstance(value, (list, tuple)):
            value = ", ".join(value) or "-"
        click.echo(f"{key:28} {value}")


def _add_subcommands() -> None:
    from node.cases_cli import cases
    from node.data_cli import DATA_COMMANDS
    from node.log_cli import log

    node.add_command(log)
    node.add_command(cases)
    for command in DATA_COMMANDS:
        node.add_command(command)


_add_subcommands()
