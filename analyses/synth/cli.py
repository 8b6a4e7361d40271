"""The `fedaudit synth` command group: `fedaudit synth federation` writes a test world."""

from __future__ import annotations

from pathlib import Path

import click

from analyses.synth.generate import DEFAULT_SCALE, MIN_PERSONS, generate_federation

__all__ = ["synth"]


@click.group()
def synth() -> None:
    """Generate synthetic data with planted anomalies and their ground truth."""


@synth.command("federation")
@click.option("--provinces", type=click.IntRange(1, 31), default=4, show_default=True,
              help="How many provinces, the most populous first (2020 census).")
@click.option("--scale", type=float, default=DEFAULT_SCALE, show_default=True,
              help=f"Persons per resident: {DEFAULT_SCALE} is 1:20,000, a few thousand "
                   f"persons per large province; never fewer than {MIN_PERSONS:,} per "
                   f"province.")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True,
              help="Random seed; the same arguments always give byte-identical files.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write (must be empty, or see --force).")
@click.option("--start", default="2023-01", show_default=True,
              help="First month of the data, YYYY-MM.")
@click.option("--end", default="2025-12", show_default=True,
              help="Last month of the data, YYYY-MM; data_as_of is its last day.")
@click.option("--force", is_flag=True,
              help="Replace a synthetic federation written to --out before.")
def federation(provinces: int, scale: float, seed: int, out: Path, start: str, end: str,
               force: bool) -> None:
    """Write a synthetic federation: one folder of CSV files per province node and per
    registry node (deaths, vehicles, realestate, business), federation.toml for
    `fedaudit certs provision`, and truth/ with each priority model's planted cases
    and legitimate look-alikes (see truth/README.md).
    """
    summary = generate_federation(
        out, provinces=provinces, scale=scale, seed=seed, start=start, end=end, force=force,
        progress=lambda msg: click.echo(msg, err=True))
    total = sum(summary.rows.values())
    click.echo(f"Wrote {len(summary.nodes)} nodes ({sum(summary.persons.values()):,} persons, "
               f"{total:,} rows) to {summary.out}")
    click.echo(f"Ground truth: {summary.out / 'truth'}; provision with: "
               f"fedaudit certs provision {summary.out / 'federation.toml'} --out <dir>")
