"""Errors raised by the node: user-fixable problems and task refusals."""

from __future__ import annotations


class NodeError(Exception):
    """A problem the node's operator can fix; the message says what to do next."""


class PolicyError(NodeError):
    """The node's policy or trust file is missing or invalid; the message names the key."""


class Refusal(NodeError):
    """A task refused by the verification pipeline, with a stable code.

    The code is what HQ sees; the message is one sentence saying why, and never
    carries any of the node's data.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.reason = message
