"""The foundation as a new user meets it: provision, draft, sign, check, read the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fedaudit.cli import main
from tests.conftest import SPEC


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture()
def world(tmp_path: Path):
    spec = tmp_path / "federation.toml"
    spec.write_text(SPEC.format(name="demo"), encoding="utf-8")
    run("certs", "provision", spec, "--out", tmp_path / "fed")
    run("node", "init", "--kit", tmp_path / "fed" / "gd", "--home", tmp_path / "gd-home")
    return tmp_path


def new_task(world: Path, name: str, *extra: str) -> Path:
    out = world / name
    run("task", "new", "fund.benefit_summary", "--target", "level=province", "--purpose",
        "pension audit 2026", "--expires", "2h", "--kit", world / "fed" / "hq-lead",
        "--out", out, *extra)
    return out


def check(world: Path, task: Path) -> dict:
    result = run("node", "check-task", task, "--home", world / "gd-home", "--json", ok=False)
    decision = json.loads(result.output)
    assert result.exit_code == (0 if decision["decision"] == "ACCEPTED" else 1)
    return decision


def test_sign_twice_and_accept_without_consuming(world):
    task = new_task(world, "task.json")
    assert "signatures      none" in run("task", "show", task).output
    run("task", "sign", task, "--kit", world / "fed" / "hq-lead")
    run("task", "sign", task, "--kit", world / "fed" / "hq-approver")
    again = run("task", "sign", task, "--kit", world / "fed" / "hq-lead", ok=False)
    assert again.exit_code == 1 and "already signed" in again.output
    assert check(world, task)["decision"] == "ACCEPTED"
    # check-task is a dry run: the same task is accepted again.
    assert check(world, task)["signers"] == ["hq-lead", "hq-approver"]
    human = run("node", "check-task", task, "--home", world / "gd-home").output
    assert human.startswith("ACCEPTED")


def test_expiry_changed_by_hand_is_a_bad_signature(world):
    task = new_task(world, "task.json")
    run("task", "sign", task, "--kit", world / "fed" / "hq-lead")
    data = json.loads(task.read_text())
    data["spec"]["expires_at"] = "2099-01-01T00:00:00Z"
    task.write_text(json.dumps(data))
    decision = check(world, task)
    assert decision["code"] == "BAD_SIGNATURE" and "expires_at" in decision["reason"]


def test_a_key_from_another_federation_is_an_unknown_issuer(world, other_federation):
    task = new_task(world, "task.json")
    run("task", "sign", task, "--key", other_federation / "hq-lead" / "signing.key",
        "--signer", "hq-lead")
    assert check(world, task)["code"] == "UNKNOWN_ISSUER"


def test_one_signature_where_policy_wants_two(world):
    policy = world / "gd-home" / "policy.toml"
    policy.write_text('[approvals]\naggregate = ["lead", "approver"]\n')
    task = new_task(world, "task.json")
    run("task", "sign", task, "--kit", world / "fed" / "hq-lead")
    decision = check(world, task)
    assert decision["code"] == "INSUFFICIENT_APPROVALS"
    assert "lead + approver" in decision["reason"]


def test_decisions_are_in_the_audit_log(world):
    task = new_task(world, "task.json")
    check(world, task)  # unsigned: refused
    run("task", "sign", task, "--kit", world / "fed" / "hq-lead")
    check(world, task)
    shown = run("node", "log", "show", "--home", world / "gd-home", "--json").output
    entries = [json.loads(line) for line in shown.splitlines()]
    decisions = [e.get("decision") for e in entries if e["event"] == "task.checked"]
    assert decisions == ["REFUSED", "ACCEPTED"]
    assert "intact" in run("node", "log", "verify", "--home", world / "gd-home").output


def test_parameters_are_checked_when_drafting(world):
    result = run("task", "new", "fund.benefit_summary", "--param", "no_such=1", "--target", "gd",
                 "--purpose", "x", "--federation", "demo", "--out", world / "t.json", ok=False)
    assert result.exit_code == 1 and "no_such" in result.output
    assert not (world / "t.json").exists()


def test_a_home_without_policy_refuses_to_work(world):
    (world / "gd-home" / "policy.toml").unlink()
    task = new_task(world, "task.json")
    result = run("node", "check-task", task, "--home", world / "gd-home", ok=False)
    assert result.exit_code == 1 and "policy" in result.output


def test_every_command_has_help():
    def walk(group, path):
        for name, command in group.commands.items():
            result = run(*path, name, "--help")
            assert command.help, f"{' '.join([*path, name])} has no help text"
            for param in command.params:
                if hasattr(param, "help") and not param.help and param.param_type_name == "option":
                    pytest.fail(f"{' '.join([*path, name])} {param.opts[0]} has no help")
            assert "Usage" in result.output
            if hasattr(command, "commands"):
                walk(command, [*path, name])

    walk(main, [])
