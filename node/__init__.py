"""The node: holds a party's data, verifies and runs signed tasks, keeps an audit log."""

from node.errors import NodeError, PolicyError, Refusal

__all__ = ["NodeError", "PolicyError", "Refusal"]
