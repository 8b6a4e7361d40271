"""A node's home directory: its kit, policy, trust list, audit log, replay store and data.

    HOME/node.toml    marks the home; names the kit folder
    HOME/kit/         the node's kit from `fedaudit certs provision` (keys 0600)
    HOME/policy.toml  what the node accepts and its limits (safe defaults)
    HOME/trust.toml   the issuers it trusts and their roles
    HOME/audit.log    the hash-chained log of every decision
    HOME/replay.db    task ids already accepted for execution
    HOME/data/        dataset snapshots and their catalog
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from node.errors import NodeError
from node.policy import DEFAULT_POLICY_TOML, Policy, load_policy
from node.trust import TrustList, load_trust_list, render_trust_list


@dataclass(frozen=True)
class NodeHome:
    path: Path

    @classmethod
    def open(cls, path: str | os.PathLike) -> NodeHome:
        """Opens an existing node home; raises NodeError if path is not one."""
        home = cls(Path(path))
        if not home.node_toml.is_file():
            raise NodeError(
                f"{path} is not a node home (no node.toml); create one with "
                f"`fedaudit node init --kit KIT --home {path}`"
            )
        return home

    node_toml = property(lambda self: self.path / "node.toml")
    policy_path = property(lambda self: self.path / "policy.toml")
    trust_path = property(lambda self: self.path / "trust.toml")
    audit_log_path = property(lambda self: self.path / "audit.log")
    replay_path = property(lambda self: self.path / "replay.db")
    data_dir = property(lambda self: self.path / "data")

    @cached_property
    def kit(self):
        """The node's kit; raises NodeError if it is not a node kit."""
        from certs import load_kit

        settings = tomllib.loads(self.node_toml.read_text(encoding="utf-8"))
        kit = load_kit(self.path / settings.get("kit", "kit"))
        if kit.role != "node":
            raise NodeError(f"{kit.path} is a {kit.role} kit, not a node kit")
        return kit

    def policy(self) -> Policy:
        return load_policy(self.policy_path)

    def trust(self) -> TrustList:
        return load_trust_list(self.trust_path)

    def audit_log(self):
        from node.audit_log import AuditLog

        return AuditLog(self.audit_log_path)

    def replay_store(self):
        from node.replay import ReplayStore

        return ReplayStore(self.replay_path)


def init_home(kit_path: str | os.PathLike, home_path: str | os.PathLike,
              force: bool = False) -> NodeHome:
    """Creates a node home from a node kit, with the default policy and a trust list
    of the roster's issuers. Raises NodeError (or a certs error) on a bad kit, and
    refuses an existing home unless force is set (force keeps data and audit log)."""
    from certs import install_kit, load_kit, write_file

    if load_kit(kit_path).role != "node":
        raise NodeError(f"{kit_path} is a {load_kit(kit_path).role} kit; `node init` needs a "
                        "node kit")
    home_dir = Path(home_path)
    home = NodeHome(home_dir)
    if home.node_toml.exists() and not force:
        raise NodeError(f"{home_dir} is already a node home; add --force to rewrite its "
                        "kit, policy and trust list (data and audit log are kept)")
    home_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(home_dir, 0o700)
    kit = install_kit(kit_path, home_dir / "kit", "node")
    roster = kit.roster()
    write_file(home.policy_path, DEFAULT_POLICY_TOML)
    write_file(home.trust_path, render_trust_list(roster.issuers()))
    home.data_dir.mkdir(exist_ok=True)
    write_file(home.node_toml, '# fedaudit node home\nkit = "kit"\n')
    home.audit_log().append("node.initialised", node_id=kit.party_id,
                            federation=kit.federation, trusted_issuers=len(roster.issuers()))
    return home

