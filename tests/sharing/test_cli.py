"""The sharing commands against a real coordinator server (in this process, mutual TLS).

The server, kits, store and signatures are real; `fedaudit` runs through click's runner,
so each command is exactly what a user types.
"""

from __future__ import annotations

import csv
import json

import click
import pytest
from click.testing import CliRunner

from coordinator.home import init_home
from coordinator.server import CoordinatorServer
from coordinator.sharing_cli import SHARING_COMMANDS, access_log
from fedaudit.cli import main
from tests.sharing.helpers import finished_result, per_node_table


@pytest.fixture(scope="module")
def server(share_fed, tmp_path_factory):
    """The coordinator's gRPC server, without its combine loop: the tests finish their
    tasks themselves (helpers.finished_result), and the loop would race them."""
    home = init_home(share_fed / "coordinator", tmp_path_factory.mktemp("cli") / "home")
    running = CoordinatorServer(home, "127.0.0.1:0")
    running.server.start()
    yield running
    running.server.stop(0.5).wait()
    running.coordinator.close()


@pytest.fixture
def task_id(server, share_fed):
    return finished_result(server.coordinator, share_fed, per_node_table())


@pytest.fixture
def fedaudit(server, share_fed):
    """Runs `fedaudit ARGS --kit KIT --coordinator ADDRESS` as party `who`."""

    def run(who: str | None, *args, code: int = 0):
        extra = ["--kit", share_fed / who, "--coordinator", server.address] if who else []
        result = CliRunner().invoke(main, [str(a) for a in (*args, *extra)])
        assert result.exit_code == code, (result.output, result.stderr, result.exception)
        return result

    return run


def test_every_sharing_command_and_option_has_help():
    commands = [*SHARING_COMMANDS, *access_log.commands.values()]
    assert {c.name for c in SHARING_COMMANDS} == {
        "list", "share", "cosign", "revoke", "grants", "classify", "request-share",
        "requests", "approve", "decline"}
    for command in commands:
        assert command.help, command.name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{command.name} {param.name}"
    for path in (["results", "share"], ["coordinator", "access-log", "verify"]):
        assert CliRunner().invoke(main, [*path, "--help"]).exit_code == 0


def test_an_office_reads_exactly_its_regions_until_the_grant_is_revoked(fedaudit, task_id,
                                                                        tmp_path):
    denied = fedaudit("office-south", "results", "show", task_id, code=1)
    assert "is shared with office-south" in denied.stderr
    shared = fedaudit("hq-lead", "results", "share", task_id, "--with", "office-south",
                      "--purpose", "regional follow-up", "--expires", "30d",
                      "--regions", "44,45,46")
    grant_id = shared.stdout.split("grant ")[1].split(",")[0]
    assert "regions 44,45,46" in shared.stdout
    listed = fedaudit("office-south", "results", "list").stdout
    assert task_id in listed and grant_id in listed and "active" in listed
    shown = fedaudit("office-south", "results", "show", task_id, "--json").stdout
    rows = json.loads(shown)["rows"]
    assert sorted({r["node"] for r in rows}) == ["gd", "gx", "hn"] and len(rows) == 6
    assert "under grant" in fedaudit("office-south", "results", "show", task_id).stdout
    fedaudit("office-south", "results", "export", task_id, "--format", "csv", "--out",
             tmp_path / "mine.csv")
    with open(tmp_path / "mine.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 6
    grants = fedaudit("hq-lead", "results", "grants", task_id).stdout
    assert "office-south" in grants and "44,45,46" in grants
    fedaudit("hq-lead", "results", "revoke", grant_id, "--reason", "done")
    after = fedaudit("office-south", "results", "show", task_id, code=1)
    assert f"grant {grant_id} was revoked by hq-lead" in after.stderr
    assert "revoked" in fedaudit("hq-lead", "results", "grants", task_id).stdout


def test_a_confidential_result_is_shared_by_the_owner_and_an_approver(fedaudit, task_id,
                                                                      tmp_path):
    fedaudit("hq-lead", "results", "classify", task_id, "confidential")
    alone = fedaudit("hq-lead", "results", "share", task_id, "--with", "office-south",
                     "--purpose", "p", "--expires", "1d", code=1)
    assert "approver's co-signature" in alone.stderr
    grant_file = tmp_path / "grant.json"
    fedaudit("hq-lead", "results", "share", task_id, "--with", "office-south", "--purpose",
             "p", "--expires", "1d", "--parts", "all", "--out", grant_file)
    assert len(json.loads(grant_file.read_text())["signatures"]) == 1
    cosigned = fedaudit("hq-approver", "results", "cosign", grant_file)
    assert "shared task" in cosigned.stdout
    assert len(json.loads(grant_file.read_text())["signatures"]) == 2
    assert "confidential" in fedaudit("office-south", "results", "list").stdout


def test_an_office_asks_for_a_reshare_and_the_owner_decides(fedaudit, task_id):
    fedaudit("hq-lead", "results", "share", task_id, "--with", "office-south", "--purpose",
             "p", "--expires", "1d")
    asked = fedaudit("office-south", "results", "request-share", task_id, "--with",
                     "office-north", "--purpose", "joint audit", "--expires", "7d",
                     "--regions", "45")
    request_id = asked.stdout.split("request ")[1].split()[0]
    assert request_id in fedaudit("hq-lead", "results", "requests", task_id).stdout
    fedaudit("hq-lead", "results", "approve", request_id)
    rows = json.loads(fedaudit("office-north", "results", "show", task_id, "--json").stdout)
    assert {r["node"] for r in rows["rows"]} == {"gx"}
    again = fedaudit("office-south", "results", "request-share", task_id, "--with",
                     "office-north", "--purpose", "more", "--expires", "7d")
    second = again.stdout.split("request ")[1].split()[0]
    fedaudit("hq-lead", "results", "decline", second, "--reason", "one is enough")
    mine = fedaudit("office-south", "results", "requests", "--json").stdout
    states = {r["request_id"]: r["state"] for r in json.loads(mine)}
    assert states[request_id] == "approved" and states[second] == "declined"


@pytest.mark.parametrize(("args", "message"), [
    (["--regions", "4"], "e.g. 44"), (["--expires", "soon"], "is not a duration"),
    (["--with", "nobody"], "not an office")])
def test_bad_share_options_say_what_to_do(fedaudit, task_id, args, message):
    base = {"--with": "office-south", "--purpose": "p", "--expires": "1d"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    result = fedaudit("hq-lead", "results", "share", task_id,
                      *[x for pair in base.items() for x in pair], code=1)
    assert message in result.stderr


def test_the_access_log_shows_every_read_and_detects_tampering(fedaudit, server, task_id):
    fedaudit("hq-lead", "results", "show", task_id)
    home = server.coordinator.home.path
    shown = fedaudit(None, "coordinator", "access-log", "show", "--home", home).stdout
    assert "result.read" in shown and f"task_id={task_id}" in shown and "grant=owner" in shown
    last = json.loads(fedaudit(None, "coordinator", "access-log", "show", "--home", home,
                               "--json", "--tail", "1").stdout)
    assert (last["who"], last["rows"]) == ("hq-lead", 8)
    assert "intact" in fedaudit(None, "coordinator", "access-log", "verify", "--home",
                                home).stdout
    log = home / "access.log"
    original = log.read_bytes()
    try:
        log.write_bytes(original.replace(b'"who":"hq-lead"', b'"who":"hq-analyst"', 1))
        broken = fedaudit(None, "coordinator", "access-log", "verify", "--home", home, code=1)
        assert "broken at line" in broken.stderr
    finally:
        log.write_bytes(original)


def test_a_task_is_classified_when_it_is_submitted(fedaudit, share_fed, tmp_path):
    import datetime as dt

    from analyses import load_library
    from analyses.tasks import add_signature, draft_task, parse_targets, save_task
    from certs import load_kit
    from proto import task_pb2

    model = load_library().get("dq.dataset_quality")
    kit = load_kit(share_fed / "hq-lead")
    task = draft_task(federation=kit.federation, analysis_id=model.id,
                      analysis_version=model.version, analysis_digest=model.digest,
                      output_kind=model.kind,
                      parameters=model.bind_parameters({"as_of": dt.date(2025, 1, 31)}),
                      targets=parse_targets(["gd"]), purpose=task_pb2.Purpose(text="t"),
                      lifetime=dt.timedelta(hours=1))
    save_task(add_signature(task, kit.party_id, kit.signing_key()), tmp_path / "t.json")
    out = fedaudit("hq-lead", "task", "submit", tmp_path / "t.json", "--classification",
                   "restricted").stdout
    assert "is now restricted" in out
    listed = json.loads(fedaudit("hq-lead", "results", "list", "--json").stdout)
    mine = next(r for r in listed if r["task_id"] == task.spec.task_id)
    assert mine["classification"] == "restricted" and mine["owner"] == "hq-lead"
