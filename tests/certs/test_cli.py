"""The `fedaudit certs` commands, run through click's CliRunner."""

from __future__ import annotations

import base64
import json

import click
import pytest
from click.testing import CliRunner

from certs import CertsError, RosterError, SpecError, fingerprint, load_kit, public_bytes
from certs.cli import certs


def run(*args: str):
    return CliRunner().invoke(certs, [str(a) for a in args])


def test_every_command_and_option_has_help():
    assert certs.help
    for name, command in certs.commands.items():
        assert command.help and len(command.help) > 20, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"
        result = run(name, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_provision_reports_kits_version_and_the_hand_over(tmp_path, spec_path):
    result = run("provision", spec_path, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "provisioned 6 kits" in result.output and "roster version 1" in result.output
    for party_id in ("coordinator", "gd", "deaths", "hq-lead", "hq-approver", "office-south"):
        assert str(tmp_path / "out" / party_id) in result.output
    assert "secure channel" in result.output


def test_provision_refuses_to_overwrite_then_force_replaces(tmp_path, spec_path):
    out = tmp_path / "out"
    assert run("provision", spec_path, "--out", out).exit_code == 0
    again = run("provision", spec_path, "--out", out)
    assert again.exit_code == 1 and isinstance(again.exception, SpecError)
    assert "--force" in str(again.exception)
    forced = run("provision", spec_path, "--out", out, "--force", "--json")
    assert forced.exit_code == 0
    assert json.loads(forced.output)["roster_version"] == 1


def test_provision_spec_error_names_the_key(tmp_path, spec_path):
    spec_path.write_text(spec_path.read_text().replace('"registry"', '"provence"'))
    result = run("provision", spec_path, "--out", tmp_path / "out")
    assert isinstance(result.exception, SpecError)
    assert "node[2].level must be one of ministry, province, registry (got 'provence')" \
        in str(result.exception)


def test_issue_adds_a_party_and_bumps_the_version(fresh_federation):
    result = run("issue", "--federation", fresh_federation, "--id", "gx", "--role", "node",
                 "--level", "province", "--region", "450000", "--dataset", "benefit_payment",
                 "--dataset", "pension_payment")
    assert result.exit_code == 0, result.output
    assert "roster version 2" in result.output
    kit = load_kit(fresh_federation / "gx")
    assert kit.datasets == ("benefit_payment", "pension_payment")
    assert load_kit(fresh_federation / "gd").roster().version == 2
    issuer = run("issue", "--federation", fresh_federation, "--id", "hq-2", "--role", "issuer",
                 "--roles", "lead, approver", "--json")
    assert json.loads(issuer.output)["roster_version"] == 3
    assert load_kit(fresh_federation / "hq-2").roles == ("lead", "approver")


def test_issue_refuses_a_duplicate_and_a_node_without_level(fresh_federation):
    duplicate = run("issue", "--federation", fresh_federation, "--id", "hq-lead",
                    "--role", "issuer", "--roles", "lead")
    assert isinstance(duplicate.exception, CertsError) and "already exists" in str(
        duplicate.exception)
    incomplete = run("issue", "--federation", fresh_federation, "--id", "gx", "--role", "node")
    assert incomplete.exit_code == 2 and "--level and --region" in incomplete.output


def test_show_certificate(federation):
    path = federation / "gd" / "tls.crt"
    text = run("show", path)
    assert text.exit_code == 0
    for part in ("party id", "gd", "node", "127.0.0.1", "localhost", "demo federation CA"):
        assert part in text.output
    info = json.loads(run("show", path, "--json").output)
    assert (info["kind"], info["party_id"], info["role"]) == ("certificate", "gd", "node")
    assert info["fingerprint"] == fingerprint(path.read_bytes())
    assert info["sans"] == ["localhost", "127.0.0.1"]
    ca = json.loads(run("show", federation / "federation" / "ca.crt", "--json").output)
    assert ca["ca"] is True and ca["party_id"] is None


@pytest.mark.parametrize(("file", "key_type"), [("signing.key", "Ed25519"),
                                                ("x25519.key", "X25519"),
                                                ("tls.key", "ECDSA secp256r1 (TLS)")])
def test_show_private_key_never_prints_the_secret(federation, file, key_type):
    path = federation / "gd" / file
    secret_body = "".join(path.read_text().splitlines()[1:-1])
    for args in ((), ("--json",)):
        result = run("show", path, *args)
        assert result.exit_code == 0
        assert secret_body not in result.output.replace("\n", "")
    info = json.loads(run("show", path, "--json").output)
    assert info["kind"] == "private key" and info["type"] == key_type
    if file == "signing.key":
        kit = load_kit(federation / "gd")
        assert info["public_key"] == base64.b64encode(public_bytes(kit.signing_key())).decode()


def test_show_admin_public_key(federation):
    info = json.loads(run("show", federation / "federation" / "admin.pub", "--json").output)
    assert info["kind"] == "public key" and info["type"] == "Ed25519"
    assert len(info["key_id"]) == 16


def test_show_roster_checked_and_unchecked(federation, other_federation):
    roster = federation / "gd" / "roster.json"
    unchecked = run("show", roster)
    assert "version 1" in unchecked.output and "signature not checked" in unchecked.output
    assert "hq-approver" in unchecked.output and "roles=approver" in unchecked.output
    by_kit = run("show", roster, "--kit", federation / "hq-lead")
    assert by_kit.exit_code == 0 and "verified against the pinned admin key" in by_kit.output
    by_key = json.loads(run("show", roster, "--admin-key",
                            federation / "federation" / "admin.pub", "--json").output)
    assert by_key["signature"] == "verified" and len(by_key["parties"]) == 6
    foreign = run("show", roster, "--kit", other_federation / "gd")
    assert isinstance(foreign.exception, RosterError)


def test_show_kit_file_and_folder(federation):
    by_file = json.loads(run("show", federation / "gd" / "kit.toml", "--json").output)
    by_folder = json.loads(run("show", federation / "gd", "--json").output)
    assert by_file == by_folder
    assert (by_file["kind"], by_file["party_id"], by_file["level"]) == ("kit", "gd", "province")
    assert by_file["roster"] == "version 1 (signature verified)"
    text = run("show", federation / "coordinator" / "kit.toml").output
    assert "coordinator" in text and "signing.key" not in text


def test_show_refuses_what_it_does_not_know(federation):
    result = run("show", federation / "federation" / "spec.toml")
    assert isinstance(result.exception, CertsError)
    assert "not a certificate, key, roster or kit.toml" in str(result.exception)
