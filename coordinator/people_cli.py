"""Commands for people at HQ: submit and watch tasks, list nodes, read and export results."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from coordinator.client import PeopleClient
from coordinator.errors import CoordinatorError

KIT_OPTION = click.option(
    "--kit", "kit_path", envvar="FEDAUDIT_KIT", required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Your issuer kit, or an office kit to read what is shared with it "
         "(or set FEDAUDIT_KIT).",
)
COORDINATOR_OPTION = click.option(
    "--coordinator", "address", default=None,
    help="host:port of the coordinator (default: the address in your kit).",
)


def _client(kit_path: str, address: str | None) -> PeopleClient:
    from certs import load_kit

    return PeopleClient(load_kit(kit_path), address)


def _when(unix: int) -> str:
    if not unix:
        return "-"
    return dt.datetime.fromtimestamp(unix, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.command("submit")
@click.argument("task_file", type=click.Path(exists=True, dir_okay=False))
@KIT_OPTION
@COORDINATOR_OPTION
@click.option("--classification", type=click.Choice(["internal", "restricted", "confidential"]),
              default=None, help="Classify the result at once (signed with your kit; "
                                 "default internal; change it with `results classify`).")
def submit_command(task_file, kit_path, address, classification) -> None:
    """Submit a signed task to the coordinator, which delivers it to every target."""
    from analyses.tasks import load_task

    with _client(kit_path, address) as client:
        status = client.submit(load_task(task_file))
    nodes = ", ".join(n.node_id for n in status.nodes)
    click.echo(f"submitted task {status.task_id} ({status.analysis}) to {nodes}")
    if classification:
        from coordinator.sharing_cli import classify

        classify(status.task_id, classification, kit_path, address)
    click.echo(f"follow it with: fedaudit task watch {status.task_id}")


@click.command("watch")
@click.argument("task_id")
@KIT_OPTION
@COORDINATOR_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON line per update.")
def watch_command(task_id, kit_path, address, as_json) -> None:
    """Follow a task live, node by node, until every node answered or the deadline passed."""
    from google.protobuf import json_format

    last = None
    with _client(kit_path, address) as client:
        for status in client.watch(task_id):
            last = status
            if as_json:
                click.echo(json.dumps(json_format.MessageToDict(
                    status, preserving_proto_field_name=True), ensure_ascii=False))
                continue
            click.echo(f"[{dt.datetime.now().strftime('%H:%M:%S')}] task {status.task_id} "
                       f"{status.analysis}: {status.state}")
            for node in status.nodes:
                detail = node.refusal_code or node.message or (
                    f"{node.rows} rows" if node.state == "done" else "")
                click.echo(f"    {node.node_id:14} {node.state:10} {detail}")
    if last is not None and last.state == "failed":
        sys.exit(1)


@click.command("nodes")
@KIT_OPTION
@COORDINATOR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--policies", is_flag=True,
              help="Also show each node's effective policy (approvals, limits, disclosure).")
def nodes_command(kit_path, address, as_json, policies) -> None:
    """List the federation's nodes: connected or not, last seen, their data."""
    from google.protobuf import json_format

    with _client(kit_path, address) as client:
        nodes = client.nodes()
    if as_json:
        click.echo(json.dumps([json_format.MessageToDict(n, preserving_proto_field_name=True)
                               for n in nodes], ensure_ascii=False, indent=2))
        return
    if not nodes:
        click.echo("no node has connected yet")
    for n in nodes:
        state = "connected" if n.connected else "offline"
        datasets = ", ".join(f"{c.dataset} ({c.rows} rows)" for c in n.catalog) or "no data"
        click.echo(f"{n.node_id:14} {n.level:9} {n.region:7} {state:10} "
                   f"last seen {_when(n.last_seen_unix)}  {datasets}")
        if policies:
            for line in _policy_lines(n.policy_json):
                click.echo(f"    {line}")


def _policy_lines(policy_json: str) -> list[str]:
    """The node's effective policy as `section.key = value` lines, nested keys flattened."""
    if not policy_json:
        return ["policy: not reported yet"]

    def flatten(prefix: str, value) -> list[str]:
        if isinstance(value, dict):
            return [line for key, item in value.items()
                    for line in flatten(f"{prefix}.{key}" if prefix else key, item)]
        if isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        return [f"{prefix} = {value}"]

    return flatten("", json.loads(policy_json))


@click.group("results")
def results() -> None:
    """Read, export and share combined results, with their provenance."""


def _fetch(kit_path, address, task_id):
    from certs import load_kit

    kit = load_kit(kit_path)
    with PeopleClient(kit, address) as client:
        provenance, table = client.fetch_result(task_id)
    return kit, provenance, table


def fetch_verification_of(kit, address, provenance: dict) -> dict | None:
    """The verification summary of a linkage result, or None for other results and for
    callers the coordinator does not show it to (offices)."""
    from coordinator.errors import CoordinatorError
    from coordinator.verification_cli import fetch_verification

    try:
        with PeopleClient(kit, address) as client:
            return fetch_verification(client, provenance)
    except CoordinatorError:
        return None


def verify_receipts(kit, provenance: dict) -> dict[str, str]:
    """node id -> 'verified' or why not, checking each receipt against the roster."""
    import base64

    from node.receipt import verify_receipt

    roster = kit.roster()
    verdicts = {}
    for node in provenance.get("nodes", []):
        if node.get("state") != "done":
            continue
        party = roster.party(node["node_id"])
        try:
            body = verify_receipt(base64.b64decode(node["receipt"]),
                                  base64.b64decode(node["receipt_signature"]), party.ed25519)
            ok = body.get("task_id") == provenance["task_id"]
            verdicts[node["node_id"]] = "verified" if ok else "names another task"
        except Exception as exc:  # any failure is reported, never hidden
            verdicts[node["node_id"]] = f"NOT VERIFIED ({type(exc).__name__})"
    return verdicts


@results.command("show")
@click.argument("task_id")
@KIT_OPTION
@COORDINATOR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Provenance and rows as JSON.")
@click.option("--limit", default=50, show_default=True, help="Rows to print.")
def show_command(task_id, kit_path, address, as_json, limit) -> None:
    """Show a combined result: who answered, on which data, and the rows."""
    kit, provenance, table = _fetch(kit_path, address, task_id)
    receipts = verify_receipts(kit, provenance)
    rows = table.to_pylist() if table is not None else []
    if as_json:
        click.echo(json.dumps({"provenance": provenance, "receipts": receipts, "rows": rows},
                              ensure_ascii=False, default=str, indent=2))
        return
    analysis = provenance["analysis"]
    click.echo(f"task {task_id}: {analysis['id']}@{analysis['version']} "
               f"{analysis['title_zh']} ({analysis['title_en']})")
    click.echo(f"state {provenance['state']}, {provenance.get('rows') or 0} rows, combined "
               f"{provenance.get('combined_at', '-')}")
    for node in provenance["nodes"]:
        extra = node.get("refusal_code") or node.get("message") or ""
        if node["state"] == "done":
            snaps = ", ".join(f"{k}={v}" for k, v in (node.get("snapshots") or {}).items())
            extra = f"{node.get('rows', 0)} rows; receipt {receipts.get(node['node_id'])}; {snaps}"
        click.echo(f"    {node['node_id']:14} {node['state']:9} {extra}")
    if provenance.get("notes"):
        click.echo(f"note: {provenance['notes']}")
    if provenance.get("shared"):  # an office's view: what its grants let it see
        shared = provenance["shared"]
        click.echo(f"shared by {shared['owner']} under grant {', '.join(shared['grants'])}: "
                   f"{', '.join(shared['parts'])}, regions {', '.join(shared['regions']) or 'all'}"
                   f", until {shared['expires_at']}")
    if table is None:
        return
    names = table.column_names
    click.echo("\t".join(names))
    for row in rows[:limit]:
        click.echo("\t".join("" if row[n] is None else str(row[n]) for n in names))
    if len(rows) > limit:
        click.echo(f"… {len(rows) - limit} more rows (use --limit or `results export`)")


@results.command("export")
@click.argument("task_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "xlsx"]), required=True,
              help="File format; xlsx holds the findings, coverage and provenance sheets too.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output file.")
@KIT_OPTION
@COORDINATOR_OPTION
def export_command(task_id, fmt, out, kit_path, address) -> None:
    """Export a combined result as CSV, Parquet or xlsx (written atomically)."""
    import os

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    kit, provenance, table = _fetch(kit_path, address, task_id)
    if table is None:
        raise CoordinatorError(f"task {task_id} has no result rows ({provenance['state']}): "
                               f"see `fedaudit results show {task_id}` for why", "NOT_READY")
    if fmt == "xlsx":
        from coordinator.findings import build_findings, places_from_roster
        from coordinator.findings_cli import library_model, workbook_tables
        from node.xlsx import write_xlsx

        places = places_from_roster(kit.roster())
        findings = build_findings(table, provenance, library_model(provenance["analysis"]),
                                  places)
        write_xlsx(workbook_tables(findings, table, provenance, places), out)
        click.echo(f"wrote {table.num_rows} rows and the findings to {out}")
        return
    tmp = f"{out}.tmp"
    if fmt == "csv":
        pacsv.write_csv(table, tmp)
    else:
        pq.write_table(table, tmp)
    os.replace(tmp, out)
    click.echo(f"wrote {table.num_rows} rows to {out}")


@results.command("import")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False))
@KIT_OPTION
@COORDINATOR_OPTION
def import_command(bundle, kit_path, address) -> None:
    """Add an air-gapped node's result bundle (from `fedaudit node run-task`).

    The coordinator checks the task's signatures and the node's receipt against the
    roster, exactly as for a result that arrived online.
    """
    import zipfile

    with zipfile.ZipFile(bundle) as archive:
        info = json.loads(archive.read("bundle.json"))
        header = json.dumps({
            "format": info["format"], "node_id": info["node_id"],
            "task": json.loads(archive.read("task.json")),
            "receipt": json.loads(archive.read("receipt.json")),
        }).encode()

        def chunks():
            with archive.open("output.arrows") as fh:
                while chunk := fh.read(4 * 1024 * 1024 - 64 * 1024):
                    yield chunk

        with _client(kit_path, address) as client:
            status = client.import_result(header, chunks())
    node = next((n for n in status.nodes if n.node_id == info["node_id"]), None)
    click.echo(f"imported {info['node_id']}'s result for task {status.task_id} "
               f"({status.analysis}): node {node.state if node else '?'}, task {status.state}")


# `results verification` lives in its own module, which adds itself to `results` and
# reads the options above; import it last, once they exist.
import coordinator.verification_cli  # noqa: E402, F401
