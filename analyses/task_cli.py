"""`fedaudit task …`: draft, sign and read signed task files."""

from __future__ import annotations

import json

import click

from analyses.tasks import (
    TaskFileError,
    add_signature,
    draft_task,
    load_task,
    parse_duration,
    parse_targets,
    save_task,
    spec_view,
)
from proto import task_pb2


@click.group()
def task() -> None:
    """Draft, sign and inspect signed tasks."""


@task.command("new")
@click.argument("analysis")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter of the analysis; repeat for several. Others take their defaults.")
@click.option("--target", "targets", multiple=True, required=True, metavar="NODE|KEY=VALUE",
              help="A node id, or a selector such as level=province; repeat for several.")
@click.option("--purpose", required=True, help="Why this task exists, in one sentence.")
@click.option("--project", default="", help="The audit project number.")
@click.option("--legal-basis", default="", help="The legal basis for the audit.")
@click.option("--expires", default="24h", show_default=True,
              help="How long the task stays valid: 90s, 30m, 2h or 7d.")
@click.option("--kit", "kit_path", type=click.Path(exists=True, file_okay=False),
              help="An issuer kit: its federation name goes into the task.")
@click.option("--federation", help="The federation name, if no --kit is given.")
@click.option("--key-originator", default="",
              help="For linkage tasks: the node that draws the task key.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Where to write the task file.")
def new_command(analysis, params, targets, purpose, project, legal_basis, expires, kit_path,
                federation, key_originator, out) -> None:
    """Draft an unsigned task for ANALYSIS (an id, or id@version) from the library.

    Parameters are checked against the analysis' declaration now, and every value
    (defaults included) is written into the task, so that signers see all of it.
    """
    from analyses import load_library

    if kit_path:
        from certs import load_kit

        federation = load_kit(kit_path).federation
    if not federation:
        raise click.UsageError("name the federation with --kit ISSUER_KIT or --federation NAME")
    analysis_id, _, version = analysis.partition("@")
    model = load_library().get(analysis_id)
    if version and version != model.version:
        raise TaskFileError(f"the library has {analysis_id}@{model.version}, not @{version}")
    if model.linkage is not None and not key_originator:
        raise click.UsageError(f"{model.id} links records across nodes: name the node that "
                               "draws the task key with --key-originator NODE (usually the "
                               "registry node)")
    if model.linkage is None and key_originator:
        raise click.UsageError(f"{model.id} is not a linkage model; leave out --key-originator")
    signed = draft_task(
        federation=federation,
        analysis_id=model.id,
        analysis_version=model.version,
        analysis_digest=model.digest,
        output_kind=model.output.kind,
        parameters=model.bind_parameters(model.parse_parameters(params)),
        targets=parse_targets(targets),
        purpose=task_pb2.Purpose(project=project, legal_basis=legal_basis, text=purpose),
        lifetime=parse_duration(expires),
        key_originator=key_originator,
    )
    save_task(signed, out)
    click.echo(f"wrote {out}: task {signed.spec.task_id} ({model.id}@{model.version}, "
               f"{model.output.kind}), valid {expires}; now sign it with `fedaudit task sign`")


@task.command("sign")
@click.argument("task_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kit", "kit_path", type=click.Path(exists=True, file_okay=False),
              help="The signer's issuer kit (its signing key and id).")
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False),
              help="An Ed25519 signing key file, instead of a kit.")
@click.option("--signer", default="", help="The signer's id, when signing with --key.")
def sign_command(task_file, kit_path, key_path, signer) -> None:
    """Add your signature to TASK_FILE (each signer appends one).

    Read the task first with `fedaudit task show`: you sign exactly what it shows.
    """
    from certs import load_kit, load_private_key

    if bool(kit_path) == bool(key_path):
        raise click.UsageError("give exactly one of --kit ISSUER_KIT or --key KEY_FILE")
    if kit_path:
        kit = load_kit(kit_path)
        private_key, signer = kit.signing_key(), kit.party_id
    else:
        private_key = load_private_key(key_path)
    signed = add_signature(load_task(task_file), signer, private_key)
    save_task(signed, task_file)
    names = ", ".join(s.signer_id or s.key_id for s in signed.signatures)
    click.echo(f"signed {task_file}: {len(signed.signatures)} signature(s) ({names})")


@task.command("show")
@click.argument("task_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
def show_command(task_file, as_json) -> None:
    """Print a task file readably: what it asks, of whom, and who signed it."""
    signed = load_task(task_file)
    signed.check_view()
    spec = signed.spec
    view = spec_view(spec)
    signatures = [{"signer_id": s.signer_id, "key_id": s.key_id} for s in signed.signatures]
    if as_json:
        click.echo(json.dumps({"spec": view, "signatures": signatures}, ensure_ascii=False,
                              indent=2))
        return
    rows = [
        ("task", spec.task_id),
        ("federation", spec.federation),
        ("analysis", f"{spec.analysis_id}@{spec.analysis_version} ({spec.output_kind})"),
        ("digest", spec.analysis_digest),
        ("targets", ", ".join([*spec.targets.node_ids, *spec.targets.selectors])),
        ("purpose", spec.purpose.text),
        ("project", spec.purpose.project or "-"),
        ("legal basis", spec.purpose.legal_basis or "-"),
        ("issued", view.get("issued_at", "-")),
        ("expires", view.get("expires_at", "-")),
    ]
    if spec.key_originator:
        rows.append(("key originator", spec.key_originator))
    for name, value in rows:
        click.echo(f"{name:15} {value}")
    click.echo("parameters")
    for p in view.get("parameters", []):
        (kind, value), = p["value"].items()
        click.echo(f"  {p['name']:13} {value}")
    click.echo(f"signatures      {len(signatures) or 'none'}")
    for s in signatures:
        click.echo(f"  {s['signer_id'] or '?':13} key {s['key_id']}")
