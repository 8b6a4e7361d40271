"""The `fedaudit results` sharing commands, and `fedaudit coordinator access-log`.

Owners share a result with an office (`share`, `cosign` for a confidential result's
approver), `revoke` a grant, `classify` a result and decide offices' re-share requests
(`requests`, `approve`, `decline`); everyone lists what they may see (`list`, `grants`);
an office asks for a re-share (`request-share`). Grants and classifications are signed
here, with the kit's key, and verified again by the coordinator.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from coordinator.people_cli import COORDINATOR_OPTION, KIT_OPTION, _client, _when

__all__ = ["SHARING_COMMANDS", "access_log"]

_PARTS = click.Choice(["aggregate", "flags", "all"])
_JSON = click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
_APPROVER = click.option(
    "--approver-kit", type=click.Path(exists=True, file_okay=False), default=None,
    help="Also sign with this approver's kit (needed for a confidential result).")


def _dicts(messages) -> list[dict]:
    from google.protobuf import json_format

    return [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in messages]


def _echo_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _regions(grant) -> str:
    return ",".join(grant.regions) or "all"


def _grant_line(g) -> str:
    return (f"{g.grant_id}  {g.office_id:14} {g.parts:9} {_regions(g):16} {g.state:9} "
            f"until {_when(g.expires_unix)}  {g.purpose}")


def _sign(document, kit_path: str, approver_kit: str | None):
    """The document signed by the kit, then by the approver's kit if one is given."""
    from certs import load_kit

    for path in (kit_path, approver_kit):
        if path:
            kit = load_kit(path)
            document = document.with_signature(kit.party_id, kit.signing_key())
    return document


def _draft(kit_path: str, task_id: str, office: str, purpose: str, expires: str, regions: str,
           parts: str, request_id: str = ""):
    from analyses.tasks import parse_duration
    from certs import load_kit
    from coordinator.sharing import SharingError, draft_grant

    kit = load_kit(kit_path)
    party = kit.roster().party(office)
    if party is None or party.role != "office":
        raise SharingError(f"{office} is not an office of the federation; the roster's "
                           f"offices are {', '.join(p.id for p in kit.roster().offices())}")
    return draft_grant(federation=kit.federation, task_id=task_id, office=office,
                       purpose=purpose, parts=parts, regions=regions or "",
                       lifetime=parse_duration(expires), issued_by=kit.party_id,
                       request_id=request_id)


def _submitted(grant) -> None:
    click.echo(f"shared task {grant.task_id} with {grant.office_id}: grant {grant.grant_id}, "
               f"{grant.parts} part, regions {_regions(grant)}, until {_when(grant.expires_unix)}")
    click.echo(f"revoke it with: fedaudit results revoke {grant.grant_id}")


@click.command("share")
@click.argument("task_id")
@click.option("--with", "office", required=True, help="The office to share with (its id).")
@click.option("--purpose", required=True, help="Why the office needs the result.")
@click.option("--expires", required=True, help="How long the grant lasts, e.g. 30d or 12h.")
@click.option("--regions", default="", help="Only rows of these region codes, e.g. 44,45 "
              "(2-digit province or 6-digit code; default: every region).")
@click.option("--parts", type=_PARTS, default="aggregate", show_default=True,
              help="Which part of the result to share.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the signed grant here instead of submitting it (for an approver "
                   "to co-sign with `results cosign`).")
@_APPROVER
@KIT_OPTION
@COORDINATOR_OPTION
def share_command(task_id, office, purpose, expires, regions, parts, out, approver_kit,
                  kit_path, address) -> None:
    """Share a result you own with an office, signed with your kit.

    The coordinator checks that you own the result (and, for a confidential result,
    that an approver co-signed) and enforces the grant on every read.
    """
    from coordinator.sharing import save_document

    document = _sign(_draft(kit_path, task_id, office, purpose, expires, regions, parts),
                     kit_path, approver_kit)
    if out:
        save_document(document, out)
        click.echo(f"wrote the signed grant to {out}")
        click.echo(f"an approver co-signs and submits it with: fedaudit results cosign {out} "
                   "--kit APPROVER_KIT")
        return
    with _client(kit_path, address) as client:
        _submitted(client.share(document.to_json().encode()))


@click.command("cosign")
@click.argument("grant_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--no-submit", is_flag=True, help="Only add the signature to the file.")
@KIT_OPTION
@COORDINATOR_OPTION
def cosign_command(grant_file, no_submit, kit_path, address) -> None:
    """Co-sign a grant file as an approver, then submit it to the coordinator."""
    from coordinator.sharing import load_document, save_document

    document = _sign(load_document(grant_file, "grant"), kit_path, None)
    save_document(document, grant_file)
    click.echo(f"signed {grant_file}")
    if not no_submit:
        with _client(kit_path, address) as client:
            _submitted(client.share(document.to_json().encode()))


@click.command("revoke")
@click.argument("grant_id")
@click.option("--reason", default="", help="Why, for the access log.")
@KIT_OPTION
@COORDINATOR_OPTION
def revoke_command(grant_id, reason, kit_path, address) -> None:
    """Revoke a grant: the office's next read is refused."""
    with _client(kit_path, address) as client:
        grant = client.revoke(grant_id, reason)
    click.echo(f"revoked grant {grant.grant_id} ({grant.office_id} on task {grant.task_id})")


@click.command("grants")
@click.argument("task_id")
@_JSON
@KIT_OPTION
@COORDINATOR_OPTION
def grants_command(task_id, as_json, kit_path, address) -> None:
    """List who can see what of a result, until when."""
    with _client(kit_path, address) as client:
        grants = client.grants(task_id)
    if as_json:
        _echo_json(_dicts(grants))
        return
    if not grants:
        click.echo(f"task {task_id} is not shared with anyone")
    for grant in grants:
        click.echo(_grant_line(grant))


@click.command("list")
@_JSON
@KIT_OPTION
@COORDINATOR_OPTION
def list_command(as_json, kit_path, address) -> None:
    """List the results you may read: all of them at HQ, those shared with an office."""
    with _client(kit_path, address) as client:
        results = client.results()
    if as_json:
        _echo_json(_dicts(results))
        return
    if not results:
        click.echo("no result to show yet")
    for r in results:
        rows = f"{r.rows} rows, " if r.rows else ""
        click.echo(f"{r.task_id}  {r.analysis} {r.title}: {r.state}, {rows}"
                   f"{r.classification}, owner {r.owner}, finished {_when(r.finished_unix)}")
        for grant in r.grants:
            click.echo(f"    {_grant_line(grant)}")


@click.command("classify")
@click.argument("task_id")
@click.argument("level", type=click.Choice(["internal", "restricted", "confidential"]))
@_APPROVER
@KIT_OPTION
@COORDINATOR_OPTION
def classify_command(task_id, level, approver_kit, kit_path, address) -> None:
    """Set the classification of a result you own (lowering a confidential one needs an
    approver's co-signature)."""
    classify(task_id, level, kit_path, address, approver_kit)


def classify(task_id: str, level: str, kit_path: str, address: str | None,
             approver_kit: str | None = None):
    """Signs and sends a classification; returns the coordinator's ResultInfo.

    Raises SharingError, CertsError or CoordinatorError with what to do.
    """
    from certs import load_kit
    from coordinator.sharing import draft_classification

    kit = load_kit(kit_path)
    document = _sign(draft_classification(federation=kit.federation, task_id=task_id,
                                          level=level, issued_by=kit.party_id),
                     kit_path, approver_kit)
    with _client(kit_path, address) as client:
        info = client.classify(document.to_json().encode())
    click.echo(f"task {task_id} is now {info.classification}")
    return info


@click.command("request-share")
@click.argument("task_id")
@click.option("--with", "office", required=True, help="The office to share with.")
@click.option("--purpose", required=True, help="Why that office needs the result.")
@click.option("--expires", required=True, help="How long the grant should last, e.g. 30d.")
@click.option("--regions", default="", help="Only rows of these region codes, e.g. 44.")
@click.option("--parts", type=_PARTS, default="aggregate", show_default=True,
              help="Which part of the result to share.")
@click.option("--note", default="", help="A note for the owner.")
@KIT_OPTION
@COORDINATOR_OPTION
def request_share_command(task_id, office, purpose, expires, regions, parts, note, kit_path,
                          address) -> None:
    """As an office holding a grant, ask the owner to share the result with another office."""
    from analyses.tasks import parse_duration
    from coordinator.sharing import parse_regions

    seconds = int(parse_duration(expires).total_seconds())
    with _client(kit_path, address) as client:
        request = client.request_share(
            task_id=task_id, for_office=office, purpose=purpose, parts=parts,
            regions=list(parse_regions(regions)), duration_seconds=seconds, note=note)
    click.echo(f"asked the owner to share task {task_id} with {office}: request "
               f"{request.request_id} is {request.state}")


@click.command("requests")
@click.argument("task_id", required=False, default="")
@_JSON
@KIT_OPTION
@COORDINATOR_OPTION
def requests_command(task_id, as_json, kit_path, address) -> None:
    """List re-share requests (an office sees its own)."""
    with _client(kit_path, address) as client:
        requests = client.share_requests(task_id)
    if as_json:
        _echo_json(_dicts(requests))
        return
    if not requests:
        click.echo("no share request")
    for r in requests:
        days = dt.timedelta(seconds=r.duration_seconds)
        decided = f" by {r.decided_by}" if r.decided_by else ""
        extra = f": {r.reason}" if r.reason else (f" as grant {r.grant_id}" if r.grant_id else "")
        click.echo(f"{r.request_id}  task {r.task_id} for {r.for_office} (asked by "
                   f"{r.requested_by}), {r.parts}, regions {','.join(r.regions) or 'all'}, "
                   f"for {days}: {r.state}{decided}{extra}  [{r.purpose}]")


@click.command("approve")
@click.argument("request_id")
@click.option("--expires", default=None, help="Override the requested duration, e.g. 7d.")
@_APPROVER
@KIT_OPTION
@COORDINATOR_OPTION
def approve_command(request_id, expires, approver_kit, kit_path, address) -> None:
    """Approve a re-share request: sign the grant it asks for with your (owner's) kit."""
    from coordinator.errors import CoordinatorError

    with _client(kit_path, address) as client:
        request = next((r for r in client.share_requests() if r.request_id == request_id),
                       None)
        if request is None:
            raise CoordinatorError(f"no share request {request_id}; list them with "
                                   "`fedaudit results requests`")
        document = _sign(_draft(kit_path, request.task_id, request.for_office, request.purpose,
                                expires or f"{request.duration_seconds}s",
                                ",".join(request.regions), request.parts, request_id),
                         kit_path, approver_kit)
        decided = client.decide(request_id, True, grant_json=document.to_json().encode())
    click.echo(f"approved request {request_id}: task {decided.task_id} is shared with "
               f"{decided.for_office} as grant {decided.grant_id}")


@click.command("decline")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why, shown to the office.")
@KIT_OPTION
@COORDINATOR_OPTION
def decline_command(request_id, reason, kit_path, address) -> None:
    """Decline a re-share request."""
    with _client(kit_path, address) as client:
        decided = client.decide(request_id, False, reason=reason)
    click.echo(f"declined request {request_id} of {decided.requested_by}")


#: The commands added to `fedaudit results`.
SHARING_COMMANDS = (list_command, share_command, cosign_command, revoke_command,
                    grants_command, classify_command, request_share_command,
                    requests_command, approve_command, decline_command)

# -- the coordinator's access log ------------------------------------------------------

_HOME = click.option("--home", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="The coordinator's home directory.")


def _access_log(home: Path):
    from coordinator.access_log import AccessLog
    from coordinator.home import CoordinatorHome

    return AccessLog(CoordinatorHome.open(home).path)


@click.group("access-log")
def access_log() -> None:
    """Read and verify the coordinator's hash-chained access log (HOME/access.log)."""


@access_log.command("show")
@_HOME
@click.option("--tail", "tail_n", type=click.IntRange(min=1), default=None, metavar="N",
              help="Show only the last N entries (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print each entry as one JSON line.")
def access_log_show(home, tail_n, as_json) -> None:
    """Print who read which result under which grant, oldest first (no chain check)."""
    from node.log_cli import format_entry

    log = _access_log(home).log
    entries = log.entries() if tail_n is None else log.tail(tail_n)
    shown = 0
    for entry in entries:
        click.echo(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) if as_json
                   else format_entry(entry))
        shown += 1
    if not shown and not as_json:
        click.echo(f"the access log {log.path} has no entries yet", err=True)


@access_log.command("verify")
@_HOME
def access_log_verify(home) -> None:
    """Check the access log's hash chain end to end (exit 1 naming the first broken line)."""
    from node.audit_log import AuditLogBroken

    log = _access_log(home).log
    try:
        head = log.verified_head()
    except AuditLogBroken as exc:
        click.echo(f"error: access log broken at line {exc.line_no}: {exc.reason}", err=True)
        raise click.exceptions.Exit(1) from None
    if head.hash is None:
        click.echo("access log intact: 0 lines (empty)")
    else:
        click.echo(f"access log intact: {head.lines} line{'s' if head.lines != 1 else ''} "
                   f"(head {head.hash[:8]}…)")
