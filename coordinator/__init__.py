"""The coordinator: HQ's relay of signed tasks to nodes, and its store of results."""

from coordinator.errors import CoordinatorError

__all__ = ["CoordinatorError"]
