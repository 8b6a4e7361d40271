"""Tests for the `log show` and `log verify` commands, run through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from node.audit_log import AuditLog
from node.log_cli import log
from tests.auditlog.helpers import read_lines


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A node home holding a hand-made node.toml and an audit log of three entries."""
    (tmp_path / "node.toml").write_text('node_id = "prov-11"\n')
    audit = AuditLog(tmp_path / "audit.log")
    audit.append("task.received", task_id="t-1")
    audit.append("task.refused", task_id="t-1", code="EXPIRED", note="past its deadline")
    audit.append("case.opened", case=7, amount=1234.5, ok=True)
    return tmp_path


def run(*args: str):
    from fedaudit.cli import main

    return CliRunner().invoke(main, ["node", "log", *(str(a) for a in args)])


def test_show_prints_human_lines(home: Path) -> None:
    result = run("show", "--home", home)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    ts = json.loads(read_lines(home / "audit.log")[1])["ts"]
    assert lines[1] == f'   2 {ts} task.refused code=EXPIRED note="past its deadline" task_id=t-1'
    assert lines[2].endswith("case.opened amount=1234.5 case=7 ok=true")


def test_show_tail_and_json(home: Path) -> None:
    result = run("show", "--home", home, "--tail", "2", "--json")
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["seq"] for e in entries] == [2, 3]
    assert entries[0]["code"] == "EXPIRED" and len(entries[0]["hash"]) == 64


def test_show_rejects_a_tail_below_one(home: Path) -> None:
    result = run("show", "--home", home, "--tail", "0")
    assert result.exit_code == 2


def test_show_on_an_empty_log(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text("")
    result = run("show", "--home", tmp_path)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no entries" in result.stderr


def test_verify_intact(home: Path) -> None:
    result = run("verify", "--home", home)
    assert result.exit_code == 0, result.output
    last = json.loads(read_lines(home / "audit.log")[-1])["hash"]
    assert result.stdout == f"audit log intact: 3 lines (head {last[:8]}…)\n"


def test_verify_empty(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text("")
    result = run("verify", "--home", tmp_path)
    assert result.exit_code == 0
    assert result.stdout.startswith("audit log intact: 0 lines")


def test_verify_broken_names_the_line(home: Path) -> None:
    lines = read_lines(home / "audit.log")
    lines[1] = lines[1].replace(b"EXPIRED", b"ALLOWED")
    (home / "audit.log").write_bytes(b"".join(lines))
    result = run("verify", "--home", home)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: audit log broken at line 2: hash does not match its content (the line was edited)\n"
    )


def test_show_broken_line_fails_after_the_good_ones(home: Path) -> None:
    lines = read_lines(home / "audit.log")
    lines[2] = lines[2][:20] + b"\n"
    (home / "audit.log").write_bytes(b"".join(lines))
    result = run("show", "--home", home)
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr.startswith("error: audit log broken at line 3: ")
    assert "fedaudit node log verify" in result.stderr


@pytest.mark.parametrize("command", ["show", "verify"])
def test_not_a_node_home(tmp_path: Path, command: str) -> None:
    result = run(command, "--home", tmp_path)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {tmp_path} is not a node home (no node.toml); create one with "
        f"`fedaudit node init --kit KIT --home {tmp_path}`\n"
    )
    assert not (tmp_path / "audit.log").exists()


@pytest.mark.parametrize("args", [[], ["show"], ["verify"]])
def test_every_command_and_option_has_help(args: list[str]) -> None:
    result = run(*args, "--help")
    assert result.exit_code == 0
    command = log if not args else log.commands[args[0]]
    assert command.help
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{param.name} has no help"
            assert param.opts[0] in result.stdout
