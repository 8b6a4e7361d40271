"""The coordinator's home directory: its kit, settings, task store and results.

    HOME/coordinator.toml   listen address and defaults
    HOME/kit/               the coordinator's kit (TLS certificate and key, roster)
    HOME/coordinator.db     the task store (SQLite)
    HOME/results/           node partials and combined results, per task
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from coordinator.errors import CoordinatorError


@dataclass(frozen=True)
class CoordinatorHome:
    path: Path

    @classmethod
    def open(cls, path: str | os.PathLike) -> CoordinatorHome:
        """Opens an existing home; raises CoordinatorError if path is not one."""
        home = cls(Path(path))
        if not home.settings_path.is_file():
            raise CoordinatorError(
                f"{path} is not a coordinator home (no coordinator.toml); create one with "
                f"`fedaudit coordinator init --kit KIT --home {path}`"
            )
        return home

    @property
    def settings_path(self) -> Path:
        return self.path / "coordinator.toml"

    @property
    def store_path(self) -> Path:
        return self.path / "coordinator.db"

    @property
    def results_dir(self) -> Path:
        return self.path / "results"

    @cached_property
    def settings(self) -> dict:
        return tomllib.loads(self.settings_path.read_text(encoding="utf-8"))

    @property
    def listen(self) -> str:
        return self.settings.get("listen", self.kit.coordinator)

    @cached_property
    def kit(self):
        from certs import load_kit

        kit = load_kit(self.path / self.settings.get("kit", "kit"))
        if kit.role != "coordinator":
            raise CoordinatorError(f"{kit.path} is a {kit.role} kit, not the coordinator's")
        return kit


def init_home(kit_path: str | os.PathLike, home_path: str | os.PathLike,
              listen: str | None = None, force: bool = False) -> CoordinatorHome:
    """Creates a coordinator home from the coordinator's kit. Refuses an existing home
    unless force is set (force keeps the task store and results)."""
    from certs import install_kit, write_file

    home = CoordinatorHome(Path(home_path))
    if home.settings_path.exists() and not force:
        raise CoordinatorError(f"{home_path} is already a coordinator home; add --force to "
                               "rewrite its kit and settings (tasks and results are kept)")
    home.path.mkdir(parents=True, exist_ok=True)
    os.chmod(home.path, 0o700)
    kit = install_kit(kit_path, home.path / "kit", "coordinator")
    home.results_dir.mkdir(exist_ok=True)
    settings = (
        "# fedaudit coordinator home\n"
        'kit = "kit"\n'
        "# host:port to listen on (defaults to the address in the roster)\n"
        f'listen = "{listen or kit.coordinator}"\n'
    )
    write_file(home.settings_path, settings)
    return home
