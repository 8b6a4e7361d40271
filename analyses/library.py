"""The model library: every model under one folder, looked up by id, with one library digest."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from analyses._toml import display_path
from analyses.errors import ManifestError, UnknownAnalysis
from analyses.manifest import Model, load_model

#: The library shipped with this package: analyses/models/<area>/<name>/manifest.toml.
DEFAULT_ROOT = Path(__file__).parent / "models"
LIBRARY_CONTEXT = b"fedaudit-library/v1\n"


@dataclass(frozen=True)
class Library:
    """The loaded models of one library folder, keyed by id."""

    root: Path
    by_id: Mapping[str, Model]

    def get(self, analysis_id: str) -> Model:
        """The model with this id; raises UnknownAnalysis naming the known ids."""
        try:
            return self.by_id[analysis_id]
        except KeyError:
            known = ", ".join(sorted(self.by_id)) or "none"
            raise UnknownAnalysis(
                f"no analysis {analysis_id!r} in the library at {display_path(self.root)}; "
                f"the analyses are: {known} (see `fedaudit analyses list`)"
            ) from None

    def models(self) -> list[Model]:
        """Every model, sorted by id."""
        return [self.by_id[key] for key in sorted(self.by_id)]

    @property
    def digest(self) -> str:
        """SHA-256 hex over every model's id, version and digest, sorted by id."""
        h = hashlib.sha256(LIBRARY_CONTEXT)
        for model in self.models():
            h.update(f"{model.id}\n{model.version}\n{model.digest}\n".encode())
        return h.hexdigest()


def load_library(root: Path | str | None = None) -> Library:
    """Loads every model under `root` (default: the library shipped with this package).

    A model is a folder `<area>/<name>/` holding a manifest.toml. Raises ManifestError
    when the root is not a folder or when any model is invalid (the message names the
    file and key), so a broken model can never hide behind the others.
    """
    root = Path(root) if root is not None else DEFAULT_ROOT
    if not root.is_dir():
        raise ManifestError(f"{display_path(root)}: not a folder; give the folder that holds "
                            "<area>/<name>/manifest.toml")
    models = {}
    for manifest in sorted(root.glob("*/*/manifest.toml")):
        model = load_model(manifest.parent)
        models[model.id] = model
    return Library(root, MappingProxyType(models))
