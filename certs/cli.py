"""The `fedaudit certs` commands: provision a federation, issue one more party, show a file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from certs._show import describe, render
from certs.kit import load_kit
from certs.provision import issue_party, provision
from certs.signing import load_public_key

__all__ = ["certs"]

_HAND_OVER = ("Hand each kit folder to its party over a secure channel: it holds the party's "
              "private keys. Keep the federation folder (CA and roster-signing keys) offline.")


@click.group("certs")
def certs() -> None:
    """Federation PKI: the CA, party certificates and keys, and the signed roster."""


@certs.command("provision")
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to create: federation/ plus one kit folder per party.")
@click.option("--force", is_flag=True,
              help="Replace a federation already in --out (its CA and keys are lost).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def provision_command(spec: Path, out: Path, force: bool, as_json: bool) -> None:
    """Create a federation from SPEC (a spec.toml): CA, keys, kits and roster version 1.

    Example: fedaudit certs provision spec.toml --out ./federation-demo
    """
    result = provision(spec, out, force=force)
    if as_json:
        click.echo(json.dumps({
            "out": str(result.out_dir),
            "federation_dir": str(result.federation_dir),
            "roster_version": result.roster_version,
            "kits": [{"id": i, "role": r, "path": str(p)} for i, r, p in result.kits],
        }, indent=2))
        return
    click.echo(f"provisioned {len(result.kits)} kits in {result.out_dir} "
               f"(roster version {result.roster_version})")
    click.echo(f"  {result.federation_dir}  CA, admin roster-signing key, roster, spec copy")
    width = max(len(str(p)) for _, _, p in result.kits)
    for party_id, role, path in result.kits:
        click.echo(f"  {str(path):<{width}}  {role} {party_id}")
    click.echo(_HAND_OVER)


@certs.command("issue")
@click.option("--federation", "federation_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The folder given to `certs provision --out` (it holds federation/).")
@click.option("--id", "party_id", required=True,
              help="The new party's id: lowercase letters, digits and '-'.")
@click.option("--role", required=True, type=click.Choice(["node", "issuer", "office"]),
              help="What the new party is.")
@click.option("--level", type=click.Choice(["ministry", "province", "registry"]),
              help="A node's level (nodes only).")
@click.option("--region", help="A node's 6-digit region code, e.g. 440000 (nodes only).")
@click.option("--dataset", "datasets", multiple=True,
              help="A dataset the node serves; repeat for several (nodes only).")
@click.option("--roles", "roles_text", default="",
              help="An issuer's approval roles, comma-separated, e.g. lead,approver.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def issue_command(federation_dir: Path, party_id: str, role: str, level: str | None,
                  region: str | None, datasets: tuple[str, ...], roles_text: str,
                  as_json: bool) -> None:
    """Add one node, issuer or office to an existing federation.

    Writes the new kit, re-signs the roster with the next version, and refreshes
    roster.json in federation/ and in every kit folder under --federation.
    """
    roles = tuple(r.strip() for r in roles_text.split(",") if r.strip())
    if role == "node" and (level is None or region is None):
        raise click.UsageError("a node needs --level and --region")
    if role == "issuer" and not roles:
        raise click.UsageError("an issuer needs --roles, e.g. --roles lead,approver")
    result = issue_party(federation_dir, party_id=party_id, role=role, level=level,
                         region=region, datasets=datasets, roles=roles)
    if as_json:
        click.echo(json.dumps({"kit": str(result.kit_dir),
                               "roster_version": result.roster_version,
                               "refreshed": [str(p) for p in result.refreshed]}, indent=2))
        return
    click.echo(f"issued {role} {party_id}: kit {result.kit_dir}")
    click.echo(f"roster version {result.roster_version} written to "
               f"{len(result.refreshed)} places; running parties receive it from the coordinator")
    click.echo(_HAND_OVER)


@certs.command("show")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--kit", "kit_path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Verify a roster against the admin key pinned in this kit.")
@click.option("--admin-key", "admin_key_path",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Verify a roster against this admin public key (federation/admin.pub).")
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
def show_command(file: Path, kit_path: Path | None, admin_key_path: Path | None,
                 as_json: bool) -> None:
    """Print FILE readably: a certificate, a key (never its secret), a roster, or a kit.

    FILE may also be a kit folder. Private key bytes are never printed.
    """
    if kit_path and admin_key_path:
        raise click.UsageError("give --kit or --admin-key, not both")
    admin_key = None
    if kit_path:
        admin_key = load_kit(kit_path).admin_public_key
    elif admin_key_path:
        admin_key = load_public_key(admin_key_path)
    info = describe(file, admin_key)
    click.echo(json.dumps(info, indent=2) if as_json else render(info))
