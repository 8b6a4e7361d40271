"""Grant and classification documents: signing, files, and every way verification refuses.

The cases are generated with the real kits of the session federation (tests/conftest.py:
issuers hq-lead with role lead and hq-approver with role approver, office office-south)
and a fixed clock, so each one is reproducible.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certs import load_kit
from coordinator.sharing import (
    Grant,
    SharingError,
    check_part,
    draft_classification,
    draft_grant,
    load_document,
    parse_document,
    parse_regions,
    region_matches,
    save_document,
    verify_classification,
    verify_grant,
)

#: The fixed clock of these cases: grants start at T0 and last a day.
T0 = 1_750_000_000
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def roster(federation):
    return load_kit(federation / "coordinator").roster()


def signed(document, federation, *signers):
    for signer in signers:
        kit = load_kit(federation / signer)
        document = document.with_signature(kit.party_id, kit.signing_key())
    return document


def grant(federation, *, signers=("hq-lead",), issued_by="hq-lead", office="office-south",
          regions=("44",), parts="aggregate", fed_name="demo"):
    document = draft_grant(federation=fed_name, task_id="t1", office=office,
                           purpose="follow-up", parts=parts, regions=regions, lifetime=DAY,
                           issued_by=issued_by, now=T0)
    return signed(document, federation, *signers)


def check(document, roster, *, owner="hq-lead", classification="internal", now=T0 + 60):
    return verify_grant(document, roster, owner=owner, classification=classification, now=now)


def test_a_grant_signed_by_the_owner_verifies_and_says_what_was_drafted(federation, roster):
    found = check(grant(federation), roster)
    assert isinstance(found, Grant)
    assert (found.task_id, found.office, found.parts, found.regions) == (
        "t1", "office-south", "aggregate", ("44",))
    assert (found.not_before, found.expires_at) == (T0, T0 + 86_400)


def test_a_grant_round_trips_through_its_file(federation, tmp_path):
    document = grant(federation, signers=("hq-lead", "hq-approver"))
    save_document(document, tmp_path / "g.json")
    loaded = load_document(tmp_path / "g.json", "grant")
    assert loaded == document
    assert json.loads((tmp_path / "g.json").read_text())["grant"]["regions"] == ["44"]


def _forged_payload(document):
    payload = document.payload()
    payload["regions"] = []  # widen the grant to every region
    return type(document)("grant", json.dumps(payload, sort_keys=True).encode(),
                          document.signatures)


def _other_federation_signer(document, other_federation):
    return signed(type(document)("grant", document.payload_bytes), other_federation, "hq-lead")


#: Named invalid grants: (name, build(federation, other_federation), verify kwargs, code).
INVALID = [
    ("unsigned", lambda f, o: draft_grant(
        federation="demo", task_id="t1", office="office-south", purpose="p", parts="all",
        regions=(), lifetime=DAY, issued_by="hq-lead", now=T0), {}, "BAD_SIGNATURE"),
    ("payload changed after signing", lambda f, o: _forged_payload(grant(f)), {},
     "BAD_SIGNATURE"),
    ("signed by a key of another federation", lambda f, o: _other_federation_signer(
        grant(f), o), {}, "UNKNOWN_ISSUER"),
    ("signed by an issuer who is not the owner", lambda f, o: grant(
        f, signers=("hq-approver",), issued_by="hq-approver"), {}, "FORBIDDEN"),
    ("names the owner but is signed by another issuer", lambda f, o: grant(
        f, signers=("hq-approver",)), {}, "FORBIDDEN"),
    ("confidential without an approver", lambda f, o: grant(f),
     {"classification": "confidential"}, "FORBIDDEN"),
    ("confidential, owned and signed by an approver alone", lambda f, o: grant(
        f, signers=("hq-approver",), issued_by="hq-approver"),
     {"classification": "confidential", "owner": "hq-approver"}, "FORBIDDEN"),
    ("for a party that is not an office", lambda f, o: grant(f, office="gd"), {},
     "INVALID_REQUEST"),
    ("for another federation", lambda f, o: grant(f, fed_name="other"), {},
     "INVALID_REQUEST"),
    ("expired", lambda f, o: grant(f), {"now": T0 + 86_400}, "EXPIRED"),
    ("not valid yet", lambda f, o: grant(f), {"now": T0 - 1}, "FORBIDDEN"),
]


@pytest.mark.parametrize(("build", "kwargs", "code"), [c[1:] for c in INVALID],
                         ids=[c[0] for c in INVALID])
def test_an_invalid_grant_is_refused_with_its_code(federation, other_federation, roster,
                                                   build, kwargs, code):
    with pytest.raises(SharingError) as caught:
        check(build(federation, other_federation), roster, **kwargs)
    assert caught.value.code == code
    assert str(caught.value)  # a message saying what to do


def test_a_confidential_grant_co_signed_by_an_approver_verifies(federation, roster):
    document = grant(federation, signers=("hq-lead", "hq-approver"))
    assert check(document, roster, classification="confidential").grant_id


def test_a_key_signs_a_document_once(federation):
    with pytest.raises(SharingError, match="already signed"):
        grant(federation, signers=("hq-lead", "hq-lead"))


def test_an_edited_readable_view_is_refused(federation, tmp_path):
    save_document(grant(federation), tmp_path / "g.json")
    data = json.loads((tmp_path / "g.json").read_text())
    data["grant"]["regions"] = []
    with pytest.raises(SharingError) as caught:
        parse_document(json.dumps(data), "grant")
    assert caught.value.code == "BAD_SIGNATURE"


def test_a_grant_signature_does_not_pass_for_a_classification(federation):
    document = grant(federation)
    text = json.loads(document.to_json())
    text["format"] = "fedaudit-classification/v1"
    text["classification"] = text.pop("grant")
    with pytest.raises(SharingError):
        verify_classification(parse_document(json.dumps(text), "classification"),
                              load_kit(federation / "coordinator").roster(), owner="hq-lead",
                              current="internal")


@pytest.mark.parametrize(("text", "error"), [
    ("not json", "not JSON"), ('{"format": "fedaudit-task/v1"}', "format"),
    ('{"format": "fedaudit-grant/v1", "payload_b64": "@@"}', "damaged")])
def test_a_file_that_is_not_a_grant_is_refused(text, error):
    with pytest.raises(SharingError, match=error):
        parse_document(text, "grant")


def test_a_payload_with_a_bad_field_is_refused(federation, roster):
    document = grant(federation)
    payload = document.payload()
    payload["parts"] = "everything"
    bad = signed(type(document)("grant", json.dumps(payload).encode()), federation, "hq-lead")
    with pytest.raises(SharingError, match="parts") as caught:
        check(bad, roster)
    assert caught.value.code == "INVALID_REQUEST"


@pytest.mark.parametrize(("level", "current", "signers", "ok"), [
    ("confidential", "internal", ("hq-lead",), True),
    ("restricted", "internal", ("hq-lead",), True),
    ("internal", "confidential", ("hq-lead",), False),
    ("internal", "confidential", ("hq-lead", "hq-approver"), True),
    ("internal", "internal", ("hq-approver",), False),
])
def test_classification_rules(federation, roster, level, current, signers, ok):
    document = signed(draft_classification(federation="demo", task_id="t1", level=level,
                                           issued_by="hq-lead", now=T0), federation, *signers)
    if ok:
        found = verify_classification(document, roster, owner="hq-lead", current=current)
        assert (found.level, found.issued_at) == (level, T0)
    else:
        with pytest.raises(SharingError) as caught:
            verify_classification(document, roster, owner="hq-lead", current=current)
        assert caught.value.code == "FORBIDDEN"


@pytest.mark.parametrize(("text", "expected"), [
    ("44,45", ("44", "45")), ("45, 44 ,44", ("44", "45")), ("", ()),
    ("440100,45", ("440100", "45"))])
def test_regions_parse(text, expected):
    assert parse_regions(text) == expected


@pytest.mark.parametrize("text", ["4", "444", "4401", "GD", "44;45", "4400000"])
def test_a_bad_region_is_refused_with_an_example(text):
    with pytest.raises(SharingError, match="e.g. 44"):
        parse_regions(text)


@given(st.lists(st.from_regex(r"[0-9]{2}|[0-9]{6}", fullmatch=True), max_size=6),
       st.from_regex(r"[0-9]{6}", fullmatch=True))
def test_a_code_matches_exactly_when_a_prefix_starts_it(prefixes, code):
    expected = not prefixes or any(code[:len(p)] == p for p in prefixes)
    assert region_matches(code, parse_regions(prefixes)) == expected


def test_region_matches_nothing_for_a_missing_code():
    assert not region_matches(None, ("44",))
    assert region_matches(None, ())


@pytest.mark.parametrize(("parts", "kind", "ok"), [
    ("aggregate", "aggregate", True), ("all", "aggregate", True), ("flags", "aggregate", False),
    ("flags", "flags", True), ("flags", "tokens", True), ("aggregate", "flags", False)])
def test_a_grant_shares_only_its_parts(federation, roster, parts, kind, ok):
    found = check(grant(federation, parts=parts), roster)
    if ok:
        check_part(found, kind)
    else:
        with pytest.raises(SharingError, match="--parts"):
            check_part(found, kind)


def test_signatures_are_over_the_context_and_the_exact_bytes(federation):
    from certs import verify_signature

    document = grant(federation)
    kit = load_kit(federation / "hq-lead")
    roster = kit.roster()
    signature = document.signatures[0].signature
    verify_signature(roster.party("hq-lead").ed25519, signature,
                     b"fedaudit-grant/v1\n" + document.payload_bytes)
    assert base64.b64decode(json.loads(document.to_json())["payload_b64"]) == \
        document.payload_bytes
