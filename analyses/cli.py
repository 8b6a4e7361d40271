"""The `fedaudit analyses` commands: list, show, test and evaluate the models of the library."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

import click

from analyses._fixtures import run_fixtures
from analyses._params import format_value
from analyses.library import load_library
from analyses.manifest import Model


def json_option(command):
    """Adds --json: machine-readable output on stdout instead of text for people."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON for machines instead of text."
    )(command)


def library_option(command):
    """Adds --library DIR: read models from another folder than the built-in library."""
    return click.option(
        "--library",
        "library_root",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        metavar="DIR",
        help="Folder holding <area>/<name>/manifest.toml (default: the built-in library).",
    )(command)


def _echo_json(value: object) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group()
def analyses() -> None:
    """The analysis library: the vetted models that nodes may run.

    Each model is a manifest and SQL files under analyses/models/<area>/<name>/,
    identified by id, version and a content digest.
    """


@analyses.command("list")
@library_option
@json_option
def list_(library_root: Path | None, as_json: bool) -> None:
    """List every model: id, version, output kind, titles, and what it needs (the datasets
    per node level, and for a linkage model how it joins records across nodes)."""
    library = load_library(library_root)
    rows = [
        {"id": m.id, "version": m.version, "kind": m.kind, "method_code": m.method_code,
         "title_zh": m.title_zh, "title_en": m.title_en, "digest": m.digest,
         "datasets": {level: list(names) for level, names in m.datasets.items()},
         "linkage": m.linkage.pattern if m.linkage else None,
         "registry_datasets": m.linkage.registry_datasets if m.linkage else "all",
         "builds_on": m.builds_on.model if m.builds_on else None}
        for m in library.models()
    ]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo(f"no models in {library.root}")
        return
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        click.echo(f"{r['id']:<{width}}  {r['version']:<8} {r['kind']:<9}  "
                   f"{r['title_zh']}  {r['title_en']}")
        needs = "; ".join(
            f"{level}: {_any_of(level, r)}{', '.join(names)}"
            for level, names in r["datasets"].items())
        link = f"  [linkage: {r['linkage']}]" if r["linkage"] else ""
        link += f"  [builds on {r['builds_on']}]" if r["builds_on"] else ""
        click.echo(f"{'':<{width}}  needs {needs}{link}")


def _any_of(level: str, row: dict) -> str:
    """"any of " where a registry node needs only some of the level's datasets."""
    return "any of " if level == "registry" and row["registry_datasets"] == "any" else ""


def _block(title: str, text: str) -> list[str]:
    body = textwrap.fill(" ".join(text.split()), width=88, initial_indent="  ",
                         subsequent_indent="  ")
    return [f"{title}:", body]


def _describe(model: Model) -> str:
    lines = [
        f"{model.id} {model.version}  ({model.method_code})",
        f"{model.title_zh}  {model.title_en}",
        f"digest: {model.digest}",
        f"folder: {model.path}",
        f"category: {' / '.join(model.category)}",
        f"problem types: {', '.join(model.problem_types) or '(none)'}",
        *_block("objective", model.objective),
    ]
    if model.notes:
        lines += _block("notes", model.notes)
    lines.append("datasets:")
    lines += [f"  {level}: {', '.join(names)}" for level, names in model.datasets.items()]
    lines.append("parameters:" if model.parameters else "parameters: (none)")
    for p in model.parameters:
        facts = [p.type, "required" if p.required else f"default {format_value(p.default)}"]
        facts += [f"{key} {format_value(getattr(p, key))}" for key in ("min", "max")
                  if getattr(p, key) is not None]
        if p.choices:
            facts.append(f"choices {', '.join(p.choices)}")
        lines += [f"  {p.name}: {'; '.join(facts)}", f"      {p.description}"]
    lines += [f"  rule: {a} <= {b}" for a, b in model.parameter_order]
    lines.append(f"output: {model.kind}")
    lines += [f"  {c.name} {c.type} ({c.role}): {c.description}" for c in model.output.columns]
    if model.linkage is not None:
        link = model.linkage
        lines.append(f"linkage: {link.pattern}"
                     + (f", compared in clear: {', '.join(link.match_on)}" if link.match_on else "")
                     + (", registry datasets: any" if link.registry_datasets == "any" else ""))
        sealed = link.sealed_columns(model.output)
        where = ("cases open at the node that owns the records (fedaudit node cases)"
                 if link.resolves else "each node keeps its answer for the models that "
                 "build on it")
        lines.append(f"  sealed on the way: {', '.join(sealed) or '(none)'}; {where}")
        if link.shares_key:
            lines.append("  the task must name a key originator (task new --key-originator NODE)")
    if model.builds_on is not None:
        lines.append(f"builds on: {model.builds_on.model}: run it first, then name its task "
                     f"id in {model.builds_on.parameter} (task new --param "
                     f"{model.builds_on.parameter}=TASK_ID)")
    lines.append("steps:")
    lines += [f"  {i}. {step}" for i, step in enumerate(model.steps, 1)]
    lines.append("legal basis:")
    lines += [f"  - {basis}" for basis in model.legal_basis]
    lines += _block("audit suggestion", model.audit_suggestion)
    lines.append(f"author unit: {model.author_unit}")
    lines.append("sql: " + ", ".join(f"{k} = {v}" for k, v in model.sql_files.items()))
    return "\n".join(lines)


@analyses.command()
@click.argument("analysis_id", metavar="ID")
@library_option
@json_option
def show(analysis_id: str, library_root: Path | None, as_json: bool) -> None:
    """Show everything a model's manifest declares, with its digest and parameters.

    ID is a model id such as fund.benefit_summary (see `list`).
    """
    model = load_library(library_root).get(analysis_id)
    if as_json:
        _echo_json(model.to_dict())
    else:
        click.echo(_describe(model))


@analyses.command()
@click.argument("analysis_id", metavar="[ID]", required=False)
@library_option
@json_option
def test(analysis_id: str | None, library_root: Path | None, as_json: bool) -> None:
    """Run the fixtures of one model (or of all) and compare with the expected output.

    Exits 1 and prints every difference when any fixture fails.
    """
    library = load_library(library_root)
    models = [library.get(analysis_id)] if analysis_id else library.models()
    report = []
    for model in models:
        results = run_fixtures(model)
        report.append({
            "id": model.id,
            "version": model.version,
            "ok": all(r.ok for r in results),
            "stages": [{"stage": r.stage, "ok": r.ok, "rows": r.rows,
                        "problems": list(r.problems)} for r in results],
        })
    failed = [r for r in report if not r["ok"]]
    if as_json:
        _echo_json(report)
    else:
        for entry in report:
            stages = ", ".join(f"{s['stage']} ({s['rows']} rows)" for s in entry["stages"])
            click.echo(f"{'ok  ' if entry['ok'] else 'FAIL'}  {entry['id']} "
                       f"{entry['version']}: {stages}")
            for stage in entry["stages"]:
                for problem in stage["problems"]:
                    click.echo(f"      {stage['stage']}: {problem}")
        click.echo(f"{len(report) - len(failed)} of {len(report)} models pass their fixtures")
    if failed:
        sys.exit(1)


@analyses.command()
@click.option("--federation", "federation_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR",
              help="A synthetic federation written by `fedaudit synth federation`.")
@click.option("--work", "work_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, metavar="DIR",
              help="Build the federation here and keep it (a new or empty folder; default: "
                   "a temporary folder, removed at the end).")
@click.option("--models", "model_ids", default=None, metavar="ID,...",
              help="Evaluate only these models, comma-separated (default: every model).")
@json_option
def evaluate(federation_dir: Path, work_dir: Path | None, model_ids: str | None,
             as_json: bool) -> None:
    """Run every model over a synthetic federation and measure it against its truth.

    Starts a real coordinator and real node processes, runs each model nationwide as a
    signed task and prints, per model, recall, precision and look-alikes flagged (flag
    models, against truth/<METHOD_CODE>.csv), whether an aggregate equals the same SQL
    over the union of the nodes' data, and the run time. Progress goes to stderr. Exits
    1 when a flag model has recall below 1.0 or precision below 0.95, or a task fails.
    """
    from analyses.evaluate import evaluate_federation, format_report

    wanted = [m.strip() for m in model_ids.split(",") if m.strip()] if model_ids else None

    def say(message: str) -> None:
        click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)

    try:
        report = evaluate_federation(federation_dir, work=work_dir, model_ids=wanted,
                                     progress=say)
    except KeyboardInterrupt:
        say("interrupted: every process was stopped")
        raise SystemExit(130) from None
    if as_json:
        _echo_json(report)
    else:
        click.echo(format_report(report))
    if not report["ok"]:
        sys.exit(1)
