"""Generates a synthetic federation: province and registry files, the spec, the truth.

Provinces are generated one at a time, most populous first, so memory holds one
province's people; a person who moves or is paid by a later province travels with it.
Registry files are appended to as each province finishes.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from analyses.synth._assistance import make_cases
from analyses.synth._calendar import Window, parse_month
from analyses.synth._codes import bad_checksum_id, bad_date_id, legacy_id
from analyses.synth._context import Ctx, Truth
from analyses.synth._emit import PROVINCE_DATASETS, province_rows
from analyses.synth._medical import (
    background_settlements,
    finalise_costs,
    make_institutions,
    top_up_admissions,
)
from analyses.synth._plant_assist import plant_sa01, plant_sa03
from analyses.synth._plant_medical import plant_cross_province_stays, plant_medical
from analyses.synth._plant_pension import choose_movers, plant_pensions
from analyses.synth._plant_work import plant_work
from analyses.synth._population import make_people
from analyses.synth._readme import TRUTH_README
from analyses.synth._regions import by_population
from analyses.synth._registry import death_rows, registry_background
from analyses.synth._streams import build_streams
from analyses.synth._truth import COLUMNS, province_truth
from analyses.synth._writer import TableWriter, write_csv, write_spec
from analyses.synth.errors import SynthError

__all__ = ["DEFAULT_SCALE", "MIN_PERSONS", "REGISTRIES", "FederationSummary",
           "generate_federation", "persons_for"]

#: Persons per resident: 1:20,000, a few thousand persons in each large province.
DEFAULT_SCALE = 0.00005
#: No province gets fewer persons, so every model has planted cases (reference §4.1).
MIN_PERSONS = 1_000
#: Largest accepted scale (1:100): beyond it one province would not fit in memory.
MAX_SCALE = 0.01
#: Registry nodes: id and datasets; all have region 100000 (national).
REGISTRIES = (("deaths", ("death_record",)), ("vehicles", ("vehicle_registration",)),
              ("realestate", ("real_estate_right",)),
              ("business", ("business_entity", "business_person")))
_SPEC_MARK = "A synthetic federation written by `fedaudit synth federation`."


@dataclass(frozen=True)
class FederationSummary:
    """What was written: the folder, the nodes, persons per province, rows per file."""

    out: Path
    nodes: tuple[str, ...]
    persons: dict[str, int]
    rows: dict[str, int]


def persons_for(population_wan: float, scale: float) -> int:
    """Persons generated for a province: population × scale, at least MIN_PERSONS."""
    return max(MIN_PERSONS, round(population_wan * 10_000 * scale))


def _check(provinces: int, scale: float, seed: int, start: str, end: str) -> Window:
    if not 1 <= provinces <= 31:
        raise SynthError(f"--provinces must be between 1 and 31 (the provinces of the "
                         f"census); got {provinces}")
    if not 0 < scale <= MAX_SCALE:
        raise SynthError(f"--scale must be above 0 and at most {MAX_SCALE} (1:100); got "
                         f"{scale}. Try {DEFAULT_SCALE} (1:20,000) for a quick federation.")
    if seed < 0:
        raise SynthError(f"--seed must be a non-negative integer; got {seed}")
    window = Window(parse_month(start, "--start"), parse_month(end, "--end"))
    if window.last - window.first < 11:
        raise SynthError(f"--start {start} to --end {end} is shorter than 12 months; the "
                         f"planted cases need at least a year of data")
    return window


def _prepare(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise SynthError(f"{out} is a file; choose a folder for --out")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise SynthError(f"{out} is not empty; choose an empty folder, or pass --force to "
                             f"replace a synthetic federation written there before")
        spec = out / "federation.toml"
        marked = spec.is_file() and _SPEC_MARK in spec.read_text(encoding="utf-8")[:400]
        if not marked:
            raise SynthError(f"{out} is not empty and holds no synthetic federation (no "
                             f"federation.toml written by `fedaudit synth`); refusing to "
                             f"delete it. Choose an empty folder.")
        for child in sorted(out.iterdir()):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _mangle_ids(ctx: Ctx) -> None:
    """Writes about 0.3% of IDs in province data as real exports do: wrong check
    character, 15-digit legacy number, impossible birth date."""
    rng = ctx.rng("bad-ids")
    pool = [p for p in ctx.persons if p.reserved is None and p.death is None
            and p.move_to is None and (p.enrol or p.stays or p.in_case)]
    chosen = sorted(rng.sample(pool, min(len(pool), max(3, round(len(pool) * 0.003)))),
                    key=lambda p: p.pid)
    for i, p in enumerate(chosen):
        kind = i % 3
        if kind == 1 and p.birth.year < 2000:
            p.id_out = legacy_id(p.id18)
        elif kind == 2:
            p.id_out = bad_date_id(p.id18, rng)
        else:
            p.id_out = bad_checksum_id(p.id18)


def _province(ctx: Ctx) -> None:
    """Builds one province: people, cases, streams, planted cases, care, registries."""
    make_people(ctx)
    make_institutions(ctx)
    make_cases(ctx)
    choose_movers(ctx)
    for p in ctx.persons:
        build_streams(ctx, p)
    plant_pensions(ctx)
    plant_work(ctx)
    plant_sa03(ctx)
    plant_medical(ctx)
    background_settlements(ctx)
    top_up_admissions(ctx)
    registry_background(ctx)
    plant_sa01(ctx)
    death_rows(ctx, ctx.persons)
    _mangle_ids(ctx)
    # Last to draw persons, so that every other planted case and the background stay as
    # they would be without it; its stays (and guests' stays here) are then costed.
    plant_cross_province_stays(ctx)
    finalise_costs(ctx, ctx.persons + ctx.guests)
    province_truth(ctx)


def generate_federation(out: Path, *, provinces: int = 4, scale: float = DEFAULT_SCALE,
                        seed: int = 1, start: str = "2023-01", end: str = "2025-12",
                        force: bool = False,
                        progress: Callable[[str], None] | None = None) -> FederationSummary:
    """Writes a synthetic federation into out and returns what was written.

    Raises SynthError for an option out of range or an output folder in the way (a
    non-empty folder needs force, and force only replaces a previous synthetic
    federation). The same arguments always give byte-identical files.
    """
    window = _check(provinces, scale, seed, start, end)
    out = Path(out)
    _prepare(out, force)
    say = progress or (lambda _msg: None)
    chosen = by_population()[:provinces]
    # The spec goes first: it marks the folder as ours, so that --force can clean up
    # after an interrupted run.
    _write_spec(out, chosen, scale, seed, window)
    truth, used_ids, outbox = Truth(), set(), defaultdict(list)
    common = {"data_as_of": window.as_of, "src_system": "fedaudit-synth"}
    registry = {ds: TableWriter(out / node / f"{ds}.csv", ds,
                                {**common, "load_batch_id": f"synth-{seed}-{node}"})
                for node, datasets in REGISTRIES for ds in datasets}
    persons, rows = {}, {}
    try:
        for i, prov in enumerate(chosen):
            ctx = Ctx(prov, window, seed, persons_for(prov.population_wan, scale),
                      later=tuple(p.abbr for p in chosen[i + 1:]), truth=truth,
                      used_ids=used_ids, outbox=outbox)
            ctx.guests = outbox.pop(prov.abbr, [])
            _province(ctx)
            batch = {**common, "load_batch_id": f"synth-{seed}-{ctx.node}"}
            total = 0
            for ds in PROVINCE_DATASETS:
                writer = TableWriter(out / ctx.node / f"{ds}.csv", ds, batch)
                try:
                    writer.write(province_rows(ctx, ds))
                finally:
                    writer.close()
                rows[f"{ctx.node}/{ds}"] = writer.rows
                total += writer.rows
            for ds, writer in registry.items():
                writer.write(ctx.registry.get(ds, ()))
            persons[ctx.node] = len(ctx.persons)
            say(f"{ctx.node} ({prov.name_en}): {len(ctx.persons):,} persons, "
                f"{total:,} rows in {len(PROVINCE_DATASETS)} files")
    finally:
        for node, datasets in REGISTRIES:
            for ds in datasets:
                registry[ds].close()
                rows[f"{node}/{ds}"] = registry[ds].rows
    for node, datasets in REGISTRIES:
        say(f"{node}: " + ", ".join(f"{rows[f'{node}/{ds}']:,} {ds} rows" for ds in datasets))
    _write_truth(out, truth)
    return FederationSummary(out, tuple(p.abbr for p in chosen) + tuple(n for n, _ in REGISTRIES),
                             persons, rows)


def _write_truth(out: Path, truth: Truth) -> None:
    for model, columns in COLUMNS.items():
        cols = (*columns, "label", "reason")
        ordered = sorted(truth.rows.get(model, ()),
                         key=lambda r: tuple(str(r.get(c, "")) for c in cols))
        write_csv(out / "truth" / f"{model}.csv", cols, ordered)
    (out / "truth" / "README.md").write_text(TRUTH_README, encoding="utf-8")


def _write_spec(out: Path, chosen, scale: float, seed: int, window: Window) -> None:
    nodes = [(p.abbr, "province", p.region, PROVINCE_DATASETS) for p in chosen]
    nodes += [(node, "registry", "100000", datasets) for node, datasets in REGISTRIES]
    scale_text = f"{scale:.12f}".rstrip("0").rstrip(".")
    header = (f"{_SPEC_MARK}\nseed {seed}, scale {scale_text} (1:{round(1 / scale):,}), months "
              f"{window.start:%Y-%m} to {window.end:%Y-%m}, data as of {window.as_of}, "
              f"at least {MIN_PERSONS:,} persons a province.\n"
              f"Provision it with: fedaudit certs provision federation.toml --out <dir>")
    write_spec(out / "federation.toml", header, nodes)
