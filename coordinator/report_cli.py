"""`fedaudit results report`: writes a result as a self-contained HTML audit report."""

from __future__ import annotations

import click

from coordinator.people_cli import COORDINATOR_OPTION, KIT_OPTION, verify_receipts

__all__ = ["report_command", "write_report"]


def write_report(task_id: str, out: str, kit_path: str, address: str | None,
                 max_rows: int = 500) -> dict:
    """Fetches the result, checks its receipts, renders the report and writes it atomically.

    The result is read through `PeopleClient.fetch_result`, so the coordinator applies its
    sharing rules: an office's report shows only what its grants let it see. Returns the
    provenance. Raises CoordinatorError when the coordinator refuses or does not know the
    task, AnalysisError when the local model library lacks the result's analysis,
    ReportError when the library holds another version of it, and OSError when `out`
    cannot be written (the file is then left as it was).
    """
    from analyses import load_library
    from certs import load_kit
    from coordinator.client import PeopleClient
    from coordinator.findings import places_from_roster
    from coordinator.report import render_report
    from coordinator.results import replace_atomically

    kit = load_kit(kit_path)
    with PeopleClient(kit, address) as client:
        provenance, table = client.fetch_result(task_id)
    receipts = verify_receipts(kit, provenance)
    model = load_library().get(provenance["analysis"]["id"])
    from coordinator.people_cli import fetch_verification_of
    html = render_report(provenance, table, model, receipts=receipts,
                         places=places_from_roster(kit.roster()), max_rows=max_rows,
                         verification=fetch_verification_of(kit, address, provenance))
    with replace_atomically(out) as temp:
        temp.write_text(html, encoding="utf-8")
    return provenance


@click.command("report")
@click.argument("task_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The HTML file to write (replaced atomically if it exists).")
@click.option("--max-rows", default=500, show_default=True, type=click.IntRange(0),
              help="Result rows to list in the report; the charts use every row.")
@KIT_OPTION
@COORDINATOR_OPTION
def report_command(task_id, out, max_rows, kit_path, address) -> None:
    """Write a result as one self-contained HTML audit report.

    The report holds per-province charts of the count and the amount, the findings,
    verification progress, the result rows and the provenance (coverage, refusals,
    snapshots, disclosure policies). It loads nothing from any network, so it opens in
    an air-gapped office.
    """
    provenance = write_report(task_id, out, kit_path, address, max_rows)
    nodes = provenance.get("nodes") or []
    answered = sum(1 for n in nodes if n.get("state") == "done")
    click.echo(f"wrote the report of task {task_id} ({provenance['analysis']['id']}, "
               f"{answered} of {len(nodes)} nodes answered) to {out}")
