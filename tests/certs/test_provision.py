"""Provisioning a federation from a spec, adding a party, and reading kits back."""

from __future__ import annotations

import base64
import ipaddress
import stat
import tomllib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs import (
    CertsError,
    RosterError,
    SpecError,
    fingerprint,
    issue_party,
    key_id,
    load_kit,
    load_private_key,
    load_roster,
    load_spec,
    peer_identity,
    provision,
    public_bytes,
)
from tests.certs.conftest import SPEC_TEXT, write_spec

KIT_FILES = {
    "coordinator": {"kit.toml", "ca.crt", "tls.crt", "tls.key", "roster.json"},
    "office": {"kit.toml", "ca.crt", "tls.crt", "tls.key", "roster.json"},
    "issuer": {"kit.toml", "ca.crt", "tls.crt", "tls.key", "roster.json", "signing.key"},
    "node": {"kit.toml", "ca.crt", "tls.crt", "tls.key", "roster.json", "signing.key",
             "x25519.key"},
}
ROLE_OF = {"coordinator": "coordinator", "gd": "node", "deaths": "node", "hq-lead": "issuer",
           "hq-approver": "issuer", "office-south": "office"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _admin_public(out: Path) -> bytes:
    return public_bytes(load_private_key(out / "federation" / "admin.key"))


# -- the spec ---------------------------------------------------------------------------------


def test_the_example_spec_loads(spec_path):
    spec = load_spec(spec_path)
    assert spec.name == "demo" and spec.coordinator == "127.0.0.1:7443"
    assert [(n.id, n.level, n.region, n.datasets) for n in spec.nodes] == [
        ("gd", "province", "440000", ("benefit_payment",)),
        ("deaths", "registry", "100000", ("death_record",)),
    ]
    assert [(i.id, i.roles) for i in spec.issuers] == [("hq-lead", ("lead",)),
                                                       ("hq-approver", ("approver",))]
    assert [o.id for o in spec.offices] == ["office-south"]


def test_the_exact_message_for_a_misspelt_level(tmp_path):
    text = SPEC_TEXT.replace('level = "registry"', 'level = "provence"')
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(tmp_path, text))
    assert str(caught.value) == (f"{tmp_path / 'spec.toml'}: node[2].level must be one of "
                                 "ministry, province, registry (got 'provence')")


#: (case, text replaced in the example spec, its replacement, expected part of the message)
SPEC_ERRORS = [
    ("region too short", 'region = "440000"', 'region = "44000"', "node[1].region must be"),
    ("region as a number", 'region = "440000"', "region = 440000",
     "node[1].region must be a quoted"),
    ("upper-case id", 'id = "gd"', 'id = "GD"', "node[1].id must be"),
    ("id too long", 'id = "gd"', f'id = "{"a" * 64}"', "node[1].id must be"),
    ("reserved id", 'id = "office-south"', 'id = "coordinator"',
     "office[1].id 'coordinator' is reserved"),
    ("federation id", 'id = "gd"', 'id = "federation"', "node[1].id 'federation' is reserved"),
    ("duplicate id", 'id = "hq-lead"', 'id = "gd"', "issuer[1].id 'gd' is already used by node[1]"),
    ("no roles", 'roles = ["lead"]', "roles = []", "issuer[1].roles must name at least one role"),
    ("empty role", 'roles = ["approver"]', 'roles = [""]', "issuer[2].roles must be a list"),
    ("missing roles", 'roles = ["lead"]', "", "issuer[1].roles must be a list"),
    ("datasets not a list", 'datasets = ["death_record"]', 'datasets = "death_record"',
     "node[2].datasets must be a list"),
    ("no name", 'name = "demo"', "", "name must be"),
    ("address without port", 'coordinator = "127.0.0.1:7443"', 'coordinator = "127.0.0.1"',
     "coordinator: '127.0.0.1' is not HOST:PORT"),
    ("office as a table", "[[office]]", "[office]", "office must be an array of tables"),
    ("not TOML", 'name = "demo"', "name = demo", "not valid TOML"),
]


@pytest.mark.parametrize(("old", "new", "message"), [c[1:] for c in SPEC_ERRORS],
                         ids=[c[0] for c in SPEC_ERRORS])
def test_spec_errors_name_the_key(tmp_path, old, new, message):
    assert old in SPEC_TEXT
    path = write_spec(tmp_path, SPEC_TEXT.replace(old, new, 1))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_unknown_keys_are_ignored_and_datasets_default_to_none(tmp_path):
    text = SPEC_TEXT.replace('datasets = ["benefit_payment"]', 'contact = "ops@example.org"')
    spec = load_spec(write_spec(tmp_path, 'comment = "x"\n' + text))
    assert spec.nodes[0].datasets == ()


def test_a_missing_spec_file_is_named(tmp_path):
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "nope.toml")


# -- provisioning -------------------------------------------------------------------------------


def test_provision_writes_the_federation_folder(federation):
    fed = federation / "federation"
    assert {p.name for p in fed.iterdir()} == {"ca.crt", "ca.key", "admin.key", "admin.pub",
                                               "roster.json", "spec.toml"}
    assert _mode(fed) == 0o700
    assert _mode(fed / "ca.key") == 0o600 and _mode(fed / "admin.key") == 0o600
    assert (fed / "spec.toml").read_text() == SPEC_TEXT


def test_provision_writes_one_kit_per_party(federation):
    folders = {p.name for p in federation.iterdir()}
    assert folders == {"federation", *ROLE_OF}
    for party_id, role in ROLE_OF.items():
        kit = federation / party_id
        assert {p.name for p in kit.iterdir()} == KIT_FILES[role], party_id
        assert _mode(kit) == 0o700
        for key_file in kit.glob("*.key"):
            assert _mode(key_file) == 0o600, key_file


def test_kit_toml_contents(federation):
    admin = base64.b64encode(_admin_public(federation)).decode()
    common = {"federation": "demo", "coordinator": "127.0.0.1:7443", "admin_public_key": admin}
    read = {pid: tomllib.loads((federation / pid / "kit.toml").read_text()) for pid in ROLE_OF}
    assert read["gd"] == common | {"party_id": "gd", "role": "node", "level": "province",
                                   "region": "440000", "datasets": ["benefit_payment"]}
    assert read["hq-lead"] == common | {"party_id": "hq-lead", "role": "issuer",
                                        "roles": ["lead"]}
    assert read["office-south"] == common | {"party_id": "office-south", "role": "office"}
    assert read["coordinator"] == common | {"party_id": "coordinator", "role": "coordinator"}


def test_every_kit_roster_verifies_against_the_pinned_key(federation):
    admin = _admin_public(federation)
    for party_id in ROLE_OF:
        kit = load_kit(federation / party_id)
        assert kit.admin_public_key == admin
        roster = kit.roster()
        assert (roster.federation, roster.version, roster.coordinator) == ("demo", 1,
                                                                          "127.0.0.1:7443")
    roster = load_roster(federation / "federation" / "roster.json", admin)
    assert [p.id for p in roster.parties] == list(ROLE_OF)
    assert [p.id for p in roster.nodes()] == ["gd", "deaths"]
    assert [p.id for p in roster.issuers()] == ["hq-lead", "hq-approver"]
    document = (federation / "federation" / "roster.json").read_text()
    assert f'"signer": "{key_id(admin)}"' in document


def test_roster_entries_match_the_kits(federation):
    roster = load_kit(federation / "gd").roster()
    for party in roster.parties:
        kit = load_kit(federation / party.id)
        assert party.role == kit.role
        assert party.tls_fingerprint == fingerprint(kit.tls_cert.read_bytes())
        if kit.role in ("node", "issuer"):
            assert party.ed25519 == public_bytes(kit.signing_key())
        else:
            assert party.ed25519 is None
        if kit.role == "node":
            assert party.x25519 == public_bytes(kit.x25519_key())
            assert (party.level, party.region, party.datasets) == (kit.level, kit.region,
                                                                   kit.datasets)
        else:
            assert party.x25519 is None
    assert roster.party("hq-approver").roles == ("approver",)
    assert roster.party("nobody") is None


def test_the_coordinator_cannot_sign(federation):
    kit = load_kit(federation / "coordinator")
    assert not kit.signing_key_path.exists()
    with pytest.raises(CertsError, match="no signing key"):
        kit.signing_key()
    with pytest.raises(CertsError, match="no X25519 key"):
        load_kit(federation / "hq-lead").x25519_key()


def test_party_certificates(federation):
    ca = x509.load_pem_x509_certificate((federation / "federation" / "ca.crt").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for party_id, role in ROLE_OF.items():
        kit = load_kit(federation / party_id)
        cert = x509.load_pem_x509_certificate(kit.tls_cert.read_bytes())
        cert.verify_directly_issued_by(ca)
        subject = {a.oid: a.value for a in cert.subject}
        assert subject == {NameOID.COMMON_NAME: party_id,
                           NameOID.ORGANIZATIONAL_UNIT_NAME: role,
                           NameOID.ORGANIZATION_NAME: "demo"}
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
        assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
        assert peer_identity(kit.tls_cert.read_bytes()) == (party_id, role)


def test_the_coordinator_certificate_names_the_coordinator_host(tmp_path):
    text = SPEC_TEXT.replace("127.0.0.1:7443", "hq.audit.example:7443")
    provision(write_spec(tmp_path, text), tmp_path / "out")

    def sans(party_id):
        cert = x509.load_pem_x509_certificate((tmp_path / "out" / party_id / "tls.crt")
                                              .read_bytes())
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
            .get_values_for_type(x509.DNSName)
    assert sans("coordinator") == ["localhost", "hq.audit.example"]
    assert sans("gd") == ["localhost"]


def test_peer_identity_reads_pem_der_and_text_and_refuses_the_ca(federation):
    pem = (federation / "gd" / "tls.crt").read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    assert peer_identity(pem) == peer_identity(der) == peer_identity(pem.decode()) == ("gd",
                                                                                       "node")
    assert fingerprint(pem) == fingerprint(der)
    with pytest.raises(CertsError, match="no single OU"):
        peer_identity((federation / "federation" / "ca.crt").read_bytes())
    with pytest.raises(CertsError, match="not a PEM or DER"):
        peer_identity(b"garbage")


def test_provision_refuses_an_existing_federation_without_force(fresh_federation, spec_path):
    before = fingerprint((fresh_federation / "federation" / "ca.crt").read_bytes())
    with pytest.raises(SpecError, match="already holds a federation; add --force"):
        provision(spec_path, fresh_federation)
    after = fingerprint((fresh_federation / "federation" / "ca.crt").read_bytes())
    assert before == after


def test_force_replaces_the_federation_cleanly(fresh_federation, tmp_path):
    before = fingerprint((fresh_federation / "federation" / "ca.crt").read_bytes())
    (fresh_federation / "stray-file").write_text("from the old federation")
    text = SPEC_TEXT.replace('[[office]]\nid = "office-south"\n', "")
    result = provision(write_spec(tmp_path, text), fresh_federation, force=True)
    assert fingerprint((fresh_federation / "federation" / "ca.crt").read_bytes()) != before
    assert not (fresh_federation / "office-south").exists()
    assert not (fresh_federation / "stray-file").exists()
    assert result.roster_version == 1 and len(result.kits) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fed", "spec.toml"]


def test_provision_never_writes_into_a_foreign_folder(tmp_path, spec_path):
    target = tmp_path / "home"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    for force in (False, True):
        with pytest.raises(SpecError, match="not empty and holds no federation"):
            provision(spec_path, target, force=force)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_provision_into_an_empty_existing_folder(tmp_path, spec_path):
    (tmp_path / "empty").mkdir()
    provision(spec_path, tmp_path / "empty")
    assert (tmp_path / "empty" / "federation" / "roster.json").is_file()


def test_a_spec_error_leaves_nothing_behind(tmp_path):
    path = write_spec(tmp_path, SPEC_TEXT.replace('"province"', '"provence"'))
    with pytest.raises(SpecError, match="node\\[1\\].level"):
        provision(path, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml"]


# -- issuing one more party ---------------------------------------------------------------------


def test_issue_adds_a_node_and_bumps_the_roster(fresh_federation):
    result = issue_party(fresh_federation, party_id="gx", role="node", level="province",
                         region="450000", datasets=["benefit_payment"])
    assert result.kit_dir == fresh_federation / "gx" and result.roster_version == 2
    kit = load_kit(result.kit_dir)
    assert (kit.role, kit.level, kit.region, kit.datasets) == ("node", "province", "450000",
                                                               ("benefit_payment",))
    assert {p.name for p in kit.path.iterdir()} == KIT_FILES["node"]
    assert _mode(kit.tls_key) == _mode(kit.signing_key_path) == 0o600
    for party_id in [*ROLE_OF, "gx"]:
        roster = load_kit(fresh_federation / party_id).roster()
        assert roster.version == 2, party_id
        assert roster.party("gx").x25519 == public_bytes(kit.x25519_key())
    assert len(result.refreshed) == 1 + len(ROLE_OF)
    assert [p.name for p in fresh_federation.iterdir() if p.name.startswith(".")] == []


def test_issue_twice_counts_versions_and_accepts_the_federation_subfolder(fresh_federation):
    issue_party(fresh_federation, party_id="office-north", role="office")
    result = issue_party(fresh_federation / "federation", party_id="hq-2", role="issuer",
                         roles=("lead", "approver"))
    assert result.roster_version == 3
    assert load_kit(fresh_federation / "hq-2").roster().party("hq-2").roles == ("lead",
                                                                               "approver")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"party_id": "gd", "role": "node", "level": "province", "region": "440000"},
                     "already exists", id="duplicate"),
        pytest.param({"party_id": "coordinator", "role": "office"}, "reserved", id="reserved"),
        pytest.param({"party_id": "Bad_Id", "role": "office"}, "party id must be", id="bad id"),
        pytest.param({"party_id": "x", "role": "coordinator"}, "role must be node, issuer",
                     id="second coordinator"),
        pytest.param({"party_id": "x", "role": "node", "level": "provence", "region": "440000"},
                     "level must be one of", id="bad level"),
        pytest.param({"party_id": "x", "role": "node", "level": "province", "region": "4400"},
                     "region must be", id="bad region"),
        pytest.param({"party_id": "x", "role": "issuer"}, "at least one role", id="no roles"),
        pytest.param({"party_id": "x", "role": "office", "level": "province"},
                     "only nodes", id="office with level"),
        pytest.param({"party_id": "x", "role": "office", "roles": ["lead"]},
                     "only issuers", id="office with roles"),
        pytest.param({"party_id": "x", "role": "node", "level": "province", "region": "440000",
                      "roles": ["lead"]}, "only issuers", id="node with roles"),
    ],
)
def test_issue_refusals(fresh_federation, kwargs, match):
    before = (fresh_federation / "federation" / "roster.json").read_bytes()
    with pytest.raises(CertsError, match=match):
        issue_party(fresh_federation, **kwargs)
    assert (fresh_federation / "federation" / "roster.json").read_bytes() == before
    assert not (fresh_federation / "x").exists()


def test_issue_needs_a_federation(tmp_path):
    with pytest.raises(CertsError, match="holds no federation"):
        issue_party(tmp_path, party_id="x", role="office")


def test_issue_refuses_a_tampered_roster(fresh_federation):
    path = fresh_federation / "federation" / "roster.json"
    path.write_text(path.read_text().replace('"signature": "', '"signature": "AAAA'))
    with pytest.raises(RosterError):
        issue_party(fresh_federation, party_id="x", role="office")


# -- reading kits -----------------------------------------------------------------------------


def test_load_kit_accepts_the_kit_toml_path(federation):
    assert load_kit(federation / "gd" / "kit.toml") == load_kit(federation / "gd")


def test_load_kit_explains_a_folder_that_is_not_a_kit(tmp_path):
    with pytest.raises(CertsError) as caught:
        load_kit(tmp_path)
    assert str(caught.value) == (f"{tmp_path} is not a fedaudit kit: kit.toml missing; "
                                 "kits are written by `fedaudit certs provision`")


def test_load_kit_names_a_missing_file(fresh_federation):
    (fresh_federation / "gd" / "x25519.key").unlink()
    with pytest.raises(CertsError, match="incomplete: x25519.key missing"):
        load_kit(fresh_federation / "gd")


def test_load_kit_names_a_bad_key(fresh_federation):
    path = fresh_federation / "gd" / "kit.toml"
    path.write_text(path.read_text().replace('role = "node"', 'role = "admin"'))
    with pytest.raises(CertsError, match="kit.toml: role must be one of"):
        load_kit(fresh_federation / "gd")


def test_a_kit_refuses_a_roster_from_another_federation(fresh_federation, other_federation):
    foreign = (other_federation / "gd" / "roster.json").read_bytes()
    (fresh_federation / "gd" / "roster.json").write_bytes(foreign)
    with pytest.raises(RosterError, match="another federation"):
        load_kit(fresh_federation / "gd").roster()
