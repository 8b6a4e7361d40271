"""The data commands of `fedaudit node`: ingest, validate, and list the dataset catalog."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from analyses.datasets import load_standard, standard_names
from node.catalog import DERIVED_DATASETS, QUALITY_DATASET, Catalog, SnapshotRecord
from node.errors import NodeError
from node.ingest import IngestRejected, IngestReport, ingest_file, validate_file

__all__ = ["DATA_COMMANDS", "datasets_command", "ingest_command", "validate_command"]

# Derived datasets (dataset_quality) are written by the node itself, never ingested.
_DATASET = click.Choice(sorted(standard_names() - DERIVED_DATASETS))
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_HOME = click.Path(file_okay=False, path_type=Path)
_ENCODING_HELP = ("Encoding of a CSV file (default: UTF-8, and GBK/GB18030 if the file is "
                  "not valid UTF-8).")
_JSON_HELP = "Print the result as JSON on stdout (progress still goes to stderr)."


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _data_dir(home: Path) -> Path:
    from node.home import NodeHome

    return NodeHome.open(home).data_dir


def _print_report(report: IngestReport, as_json: bool) -> None:
    click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if as_json
               else report.render())


@click.command("ingest")
@click.argument("dataset", type=_DATASET)
@click.argument("file", type=_FILE)
@click.option("--home", required=True, type=_HOME, help="The node's home folder.")
@click.option("--encoding", help=_ENCODING_HELP)
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Data-as-of date (YYYY-MM-DD) when the file has no data_as_of column "
                   "(default: today).")
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def ingest_command(dataset: str, file: Path, home: Path, encoding: str | None,
                   as_of: dt.datetime | None, as_json: bool) -> None:
    """Validate FILE (CSV or Parquet) against DATASET's standard and ingest it.

    A file with any structural problem is rejected whole and nothing changes; the
    report lists the problems by row and column and says what to fix. Otherwise the
    data becomes a new immutable snapshot, current in the node's catalog.

    Example: fedaudit node ingest benefit_payment payments.csv --home ./gd-home
    """
    try:
        report = ingest_file(_data_dir(home), dataset, file, encoding=encoding,
                             as_of=as_of.date() if as_of else None, progress=_progress)
    except IngestRejected as exc:
        _print_report(exc.report, as_json)
        _fail(str(exc))
    except NodeError as exc:
        _fail(str(exc))
    _print_report(report, as_json)


@click.command("validate")
@click.argument("dataset", type=_DATASET)
@click.argument("file", type=_FILE)
@click.option("--encoding", help=_ENCODING_HELP)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def validate_command(dataset: str, file: Path, encoding: str | None, as_json: bool) -> None:
    """Check FILE against DATASET's standard without ingesting anything.

    Prints the same report as `ingest`; exits 1 if the file would be rejected.

    Example: fedaudit node validate benefit_payment payments.csv
    """
    try:
        report = validate_file(dataset, file, encoding=encoding, progress=_progress)
    except NodeError as exc:
        _fail(str(exc))
    _print_report(report, as_json)
    if not report.accepted:
        _fail(f"{file.name} would be rejected ({report.problem_total} problems); fix it "
              f"as the report says")


@click.command("datasets")
@click.option("--home", required=True, type=_HOME, help="The node's home folder.")
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def datasets_command(home: Path, as_json: bool) -> None:
    """List the node's current datasets: rows, months covered and missing, lag, ID problems.

    The derived dataset_quality snapshot, which the node rewrites after every ingest for
    the data-quality model dq.dataset_quality, is named on a line of its own; --json
    lists ingested datasets only.

    Example: fedaudit node datasets --home ./gd-home
    """
    try:
        catalog = Catalog.load(_data_dir(home))
    except NodeError as exc:
        _fail(str(exc))
    today = dt.date.today()
    current = [catalog.current(name) for name in catalog.datasets()]
    if as_json:
        click.echo(json.dumps([_record_json(r, today) for r in current], indent=2,
                              ensure_ascii=False))
        return
    if not current:
        click.echo(f"no datasets yet; ingest one with `fedaudit node ingest DATASET FILE "
                   f"--home {home}`")
        return
    click.echo(f"{'dataset':<22}{'rows':>12}  {'months':<17}{'missing':>8}  {'as of':<11}"
               f"{'lag':>6}{'bad ids':>9}  snapshot")
    for r in current:
        click.echo(f"{r.dataset:<22}{r.rows:>12,}  {_months(r):<17}{len(r.missing_months):>8}"
                   f"  {r.data_as_of.isoformat():<11}{f'{r.lag_days(today)}d':>6}"
                   f"{r.id_problems:>9,}  {r.snapshot_id}")
    for r in current:
        if r.missing_months:
            shown = ", ".join(m.strftime("%Y-%m") for m in r.missing_months[:12])
            more = " ..." if len(r.missing_months) > 12 else ""
            click.echo(f"{r.dataset}: missing months {shown}{more}")
    quality = catalog.current(QUALITY_DATASET)
    if quality is not None:
        click.echo(f"derived: {QUALITY_DATASET} (quality facts of the datasets above, "
                   f"rewritten after every ingest), snapshot {quality.snapshot_id}")


def _months(r: SnapshotRecord) -> str:
    if r.period_min is None:
        return "-" if not load_standard(r.dataset).period_column else "(no periods)"
    return f"{r.period_min:%Y-%m}..{r.period_max:%Y-%m}"


def _record_json(r: SnapshotRecord, today: dt.date) -> dict:
    out = r.to_json()
    out["lag_days"] = r.lag_days(today)
    out["id_problems"] = r.id_problems
    return out


#: The commands the `fedaudit node` group adds: `node.add_command(cmd)` for each.
DATA_COMMANDS = (ingest_command, validate_command, datasets_command)
