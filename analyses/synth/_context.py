"""The state of one province while it is generated, and the truth shared by all of them."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from analyses.synth._calendar import Window
from analyses.synth._model import Case, Employer, Hospital, Person
from analyses.synth._regions import Province

__all__ = ["Ctx", "Truth"]


class Truth:
    """Ground-truth rows per model, gathered across provinces, written at the end."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = defaultdict(list)

    def add(self, model: str, label: str, reason: str, **columns) -> None:
        """Records one planted case (label `anomaly`) or look-alike (label `lookalike`)."""
        if label not in ("anomaly", "lookalike"):
            raise ValueError(f"unknown truth label {label!r}")
        self.rows[model].append({**columns, "label": label, "reason": reason})


@dataclass(eq=False)
class Ctx:
    """One province being generated: its people, institutions, and what it hands on."""

    prov: Province
    window: Window
    seed: int
    scale_persons: int
    #: Node ids of the provinces generated after this one (targets of moves).
    later: tuple[str, ...]
    truth: Truth
    used_ids: set[str]
    persons: list[Person] = field(default_factory=list)
    #: Persons of earlier provinces who also have streams at this node.
    guests: list[Person] = field(default_factory=list)
    employers: list[Employer] = field(default_factory=list)
    #: Public-sector units by payroll code, as contribution employers.
    units: dict[str, Employer] = field(default_factory=dict)
    hospitals: list[Hospital] = field(default_factory=list)
    pharmacies: list[Hospital] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    #: Persons of this province with streams at a later node, by that node (shared).
    outbox: dict[str, list[Person]] = field(default_factory=lambda: defaultdict(list))
    #: Planted cases and look-alikes: (model, label, reason, payload) for the truth.
    plants: list[tuple[str, str, str, dict]] = field(default_factory=list)
    #: Registry rows produced for this province's people, by dataset.
    registry: dict[str, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    _counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def node(self) -> str:
        return self.prov.abbr

    def rng(self, stream: str) -> random.Random:
        """An independent, reproducible random stream for one purpose in this province."""
        return random.Random(f"{self.seed}/{self.node}/{stream}")

    def serial(self, kind: str) -> int:
        """The next number of a kind (1, 2, …), for identifiers unique in this province."""
        self._counters[kind] += 1
        return self._counters[kind]

    def plant(self, model: str, label: str, reason: str, **payload) -> None:
        """Records a planted case or look-alike; the truth row is computed at the end."""
        self.plants.append((model, label, reason, payload))

    def export(self, p: Person, node: str) -> None:
        """Hands p to a later node, which emits p's streams there."""
        if p not in self.outbox[node]:
            self.outbox[node].append(p)

    def candidates(self, pred) -> list[Person]:
        """Home persons not yet used by a planted case that satisfy pred, in pid order."""
        return [p for p in self.persons if p.reserved is None and pred(p)]
