"""Helpers of the report tests: real models written to disk, hand-made results, an HTML parser."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa

from analyses.manifest import Model, load_model
from coordinator.findings import NodePlace

#: Node id -> region code, as the sharing tests' roster gives them.
REGIONS = {"gd": "440000", "gx": "450000", "hn": "460000", "zj": "330000"}
#: Where each node sits, as `findings.places_from_roster` says; `death` is a registry.
PLACES = {**{n: NodePlace(n, "province", r) for n, r in REGIONS.items()},
          "death": NodePlace("death", "registry", "100000")}

_MANIFEST = '''\
id = "test.{name}"
version = "1.0.0"
method_code = "TEST-01"
title_zh = "测试模型"
title_en = "Test model"
objective = "A model written by the report tests."
category = ["测试", "报告"]
problem_types = {problem_types}
legal_basis = ["《中华人民共和国审计法》"]
steps = ["Each province node sums its payments per pooling region."]
audit_suggestion = "Read the report."
author_unit = "tests"

[datasets]
province = ["benefit_payment"]

[output]
kind = "{kind}"
{columns}
[sql]
province = "province.sql"
combine = "combine.sql"
'''


def _column(name: str, ctype: str, role: str) -> str:
    return (f'[[output.column]]\nname = "{name}"\ntype = "{ctype}"\nrole = "{role}"\n'
            f'description = "{name}"\n\n')


def write_model(root: Path, kind: str = "aggregate") -> Model:
    """A real model on disk: per pooling region (pool_admdvs), persons and amount.

    An `aggregate` has the dimension pool_admdvs, the count persons and the money measure
    amount; a `flags` model releases a token with pool_admdvs and amount as attributes.
    """
    name = "by_region" if kind == "aggregate" else "flag_region"
    folder = root / "test" / name
    folder.mkdir(parents=True)
    if kind == "aggregate":
        columns = (_column("pool_admdvs", "VARCHAR", "dimension")
                   + _column("persons", "BIGINT", "count")
                   + _column("amount", "DECIMAL(38,2)", "measure"))
        node_sql = ("SELECT pool_admdvs, count(DISTINCT psn_no) AS persons, sum(amount) AS "
                    "amount FROM benefit_payment GROUP BY pool_admdvs")
        combine_sql = ("SELECT pool_admdvs, CAST(sum(persons) AS BIGINT) AS persons, "
                       "sum(amount) AS amount FROM partials GROUP BY pool_admdvs")
        problem_types = "[]"
    else:
        columns = (_column("token", "VARCHAR", "token")
                   + _column("pool_admdvs", "VARCHAR", "attribute")
                   + _column("amount", "DECIMAL(38,2)", "attribute"))
        node_sql = "SELECT psn_no AS token, pool_admdvs, amount FROM benefit_payment"
        combine_sql = "SELECT token, pool_admdvs, amount FROM partials"
        problem_types = '["七-26"]'
    (folder / "manifest.toml").write_text(_MANIFEST.format(
        name=name, kind=kind, columns=columns, problem_types=problem_types), encoding="utf-8")
    (folder / "province.sql").write_text(node_sql, encoding="utf-8")
    (folder / "combine.sql").write_text(combine_sql, encoding="utf-8")
    return load_model(folder)


def aggregate_table(rows: list[tuple[str, int | None, str | None, bool]]) -> pa.Table:
    """A combined aggregate of `write_model`: (pool_admdvs, persons, amount, lower_bound)."""
    return pa.table({
        "pool_admdvs": [r[0] for r in rows],
        "persons": pa.array([r[1] for r in rows], pa.int64()),
        "amount": pa.array([None if r[2] is None else Decimal(r[2]) for r in rows],
                           pa.decimal128(38, 2)),
        "suppressed_parts": pa.array([int(r[3]) for r in rows], pa.int32()),
        "lower_bound": [r[3] for r in rows],
    })


def policy_summary(primary: int = 0) -> dict:
    """A node's disclosure summary in the shape its receipt records."""
    return {"kind": "aggregate", "cells": 3, "released": 3 - primary,
            "suppressed": {"primary": primary, "secondary": 0},
            "settings": {"disclosure": {"min_contributors": 10, "zeros": "allow",
                                        "dominance_n": 2, "dominance_k": 85, "p_percent": 0},
                         "release": {"aggregate": "auto", "flags": "manual"}}}


def provenance(model: Model, nodes: list[dict], state: str = "partial") -> dict:
    """Provenance in the shape `coordinator.service` writes it."""
    return {
        "task_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "state": state, "rows": 3,
        "submitted_by": "hq-lead", "combined_at": "2025-06-30T08:00:00+00:00",
        "analysis": {"id": model.id, "version": model.version, "digest": model.digest,
                     "title_zh": model.title_zh, "title_en": model.title_en,
                     "kind": model.kind},
        "nodes": nodes, "notes": model.notes,
    }


def done(node_id: str, primary: int = 0) -> dict:
    return {"node_id": node_id, "state": "done", "rows": 2,
            "snapshots": {"benefit_payment": f"snap-{node_id}-{dt.date(2025, 6, 1)}"},
            "disclosure": policy_summary(primary)}


class Page(HTMLParser):
    """The parsed document: every start tag with its attributes, the text, the styles."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        #: The `rect.bar` attributes of each <svg>, in document order.
        self.charts: list[list[dict[str, str]]] = []
        #: The text inside each <section id=...>, by id.
        self.sections: dict[str, str] = {}
        self._stack: list[tuple[str, dict[str, str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        entry = (tag, {k: v or "" for k, v in attrs})
        self.tags.append(entry)
        if tag == "svg":
            self.charts.append([])
        elif tag == "rect" and "bar" in entry[1].get("class", "").split():
            self.charts[-1].append(entry[1])
        if tag not in ("meta", "br", "hr", "img", "input", "link"):  # void elements
            self._stack.append(entry)

    def handle_endtag(self, tag):
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        if self._stack and self._stack[-1][0] == "style":
            self.styles.append(data)
        self.text.append(data)
        for name, attrs in self._stack:
            if name == "section" and attrs.get("id"):
                self.sections[attrs["id"]] = self.sections.get(attrs["id"], "") + data

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        """Attributes of each `tag` whose class list holds `cls` (any, if None)."""
        return [attrs for name, attrs in self.tags if name == tag and (
            cls is None or cls in attrs.get("class", "").split())]

    @property
    def all_text(self) -> str:
        return "".join(self.text)
