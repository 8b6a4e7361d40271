"""The [disclosure] and [release] sections of the node policy: defaults, parsing, errors."""

from __future__ import annotations

import pytest

from node.errors import PolicyError
from node.policy import DEFAULT_POLICY_TOML, DisclosurePolicy, Policy, parse_policy

DEFAULTS = {
    "disclosure": {
        "min_contributors": 10,
        "zeros": "allowed",
        "dominance_n": 2,
        "dominance_k": 85,
        "p_percent": 0,
        "max_rows": 100_000,
        "max_string_length": 64,
        "token_bucket": 1000,
    },
    "release": {"aggregate": "auto", "tokens": "auto", "flags": "auto"},
}


def test_default_policy_toml_parses_to_the_defaults():
    policy = parse_policy(DEFAULT_POLICY_TOML)
    assert policy == Policy()
    assert policy.disclosure == DisclosurePolicy()
    assert policy.disclosure.settings() == DEFAULTS


def test_default_toml_shows_every_disclosure_key():
    for section, values in DEFAULTS.items():
        assert f"[{section}]" in DEFAULT_POLICY_TOML
        for key in values:
            assert f"\n{key} = " in DEFAULT_POLICY_TOML


def test_an_empty_file_gives_the_defaults():
    assert parse_policy("").disclosure.settings() == DEFAULTS


def test_a_provincial_admin_tightens_the_rules():
    policy = parse_policy(
        '[disclosure]\nmin_contributors = 20\nzeros = "disclosive"\np_percent = 10\n'
        'dominance_n = 1\ndominance_k = 50\n[release]\nflags = "manual"\n'
    )
    settings = policy.disclosure.settings()
    assert settings["disclosure"] == {
        **DEFAULTS["disclosure"],
        "min_contributors": 20, "zeros": "disclosive", "p_percent": 10,
        "dominance_n": 1, "dominance_k": 50,
    }
    assert policy.disclosure.release_mode("flags") == "manual"
    assert policy.disclosure.release_mode("aggregate") == "auto"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[disclosure]\ndominance_k = 0", "disclosure.dominance_k must be between 1 and 100"),
        ("[disclosure]\ndominance_k = 101", "disclosure.dominance_k must be between 1 and 100"),
        ("[disclosure]\ndominance_n = 3", "disclosure.dominance_n must be 1 or 2"),
        ("[disclosure]\nmin_contributors = 0", "disclosure.min_contributors must be at least 1"),
        ("[disclosure]\np_percent = 101", "disclosure.p_percent must be between 0"),
        ("[disclosure]\nmax_rows = 0", "disclosure.max_rows must be at least 1"),
        ("[disclosure]\nmax_string_length = 0", "disclosure.max_string_length"),
        ("[disclosure]\ntoken_bucket = 0", "disclosure.token_bucket must be at least 1"),
        ("[disclosure]\ntoken_bucket = -5", "disclosure.token_bucket"),
        ("[disclosure]\nzeros = \"never\"", "disclosure.zeros must be \"allowed\" or"),
        ("[disclosure]\nzeros = 0", "disclosure.zeros must be a string"),
        ("[disclosure]\ndominance_k = 85.5", "disclosure.dominance_k must be an integer"),
        ("[disclosure]\nmin_contributors = true", "disclosure.min_contributors must be an"),
        ("[disclosure]\nthreshold = 10", "unknown key disclosure.threshold"),
        ("[release]\nflags = \"later\"", "release.flags must be \"auto\" or \"manual\""),
        ("[release]\nreport = \"auto\"", "unknown key release.report"),
        ("release = \"manual\"", "release must be a table"),
    ],
)
def test_errors_name_the_key(text, named):
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert str(caught.value).startswith("policy.toml: ")
    assert named in str(caught.value)


def test_policy_keeps_its_other_sections():
    policy = parse_policy("[limits]\nthreads = 4\n[disclosure]\nmax_rows = 50\n")
    assert policy.threads == 4 and policy.disclosure.max_rows == 50
