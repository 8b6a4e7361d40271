"""Model manifests: the TOML format of an analysis, its strict loader and its content digest.

A model lives in ``analyses/models/<area>/<name>/``: a ``manifest.toml``, the SQL files it
names, and ``fixtures/`` (a tiny input set with its expected output, see
``analyses._fixtures``). The manifest mirrors the NAO method documents (方法代码, 方法名称,
目标功能, 所需数据, 分析步骤, 适用法规, 审计建议, 作者单位 and parameters with
default/min/max)::

    id = "fund.benefit_summary"        # <area>.<name>, equal to the folder
    version = "1.0.0"                  # semver; a released version is immutable
    method_code = "FUND-00"            # 方法代码
    title_zh = "养老金等待遇发放汇总"     # 方法名称
    title_en = "Benefit payments by scheme and month"
    objective = "..."                  # 目标功能
    notes = "..."                      # optional: caveats a reader of the result needs
    category = ["基金", "待遇发放"]      # two levels: area, then problem type
    problem_types = []                 # problem-type taxonomy codes, e.g. "七-26"
    legal_basis = ["..."]              # 适用法规, at least one
    steps = ["...", "..."]             # 分析步骤, at least one
    audit_suggestion = "..."           # 审计建议
    author_unit = "..."                # 作者单位
    parameter_order = [["period_start", "period_end"]]   # optional: first <= second

    [datasets]                         # 所需数据, per node level that runs the model
    province = ["benefit_payment"]     # names of standard datasets (analyses.datasets)

    [[parameter]]                      # zero or more, in the order people read them
    name = "period_start"
    type = "month"                     # int float decimal date month string bool code
    default = 2000-01-01               # TOML-native value; no default = required
    min = 1990-01-01                   # min/max only for ordered types
    max = 2099-12-01
    description = "..."                # `choices = [...]` for type "code" only
                                       # decimals are strings: default = "12.50"

    [output]
    kind = "aggregate"                 # aggregate | tokens | flags

    [[output.column]]                  # what a node releases, in order
    name = "persons"
    type = "BIGINT"                    # VARCHAR DATE TIMESTAMP INTEGER BIGINT DOUBLE
                                       # BOOLEAN DECIMAL(p,s)
    role = "count"                     # dimension measure count token attribute
    description = "..."
    # dominance = true                 # measures of an aggregate only: the node SQL also
                                       # returns <name>__top1 and <name>__top2 (below)

    # [linkage]                        # flags models that join across nodes by token:
    # pattern = "registry_attributes"  # or "cross_node"; see analyses._linkage
    # match_on = []                    # cross_node: attributes compared in clear

    # [builds_on]                      # reads the return of an earlier presence task
    # model = "assistance.enrolled_elsewhere"
    # parameter = "enrolment_task"     # string parameter, default "", holding its task id

    [sql]                              # file names, relative to the model folder
    province = "province.sql"          # one per level listed under [datasets]
    combine = "combine.sql"            # required
    # resolve = "resolve.sql"          # tokens/flags only: local case detail

Rules the loader enforces besides types and unknown keys: an ``aggregate`` has dimension,
measure and exactly one ``count`` column (the number of DISTINCT persons contributing to
the cell at one node); ``tokens`` and ``flags`` have exactly one ``token`` column (VARCHAR)
and otherwise ``attribute`` columns; no output column is named like a local-only column
of the datasets used; no output column is named ``disclosure`` (the marker column the
node's disclosure engine adds) or ends in ``__top1`` or ``__top2`` (reserved for dominance
helpers); ``dominance`` is set on measures only; each SQL file is one DuckDB SELECT
statement whose ``$name`` parameters are all declared, and every declared parameter is
used by some SQL file.

**Dominance helpers.** The node applies the (n, k) dominance rule and the p% rule to a sum
only when it knows the cell's two largest contributions. A measure ``m`` declared with
``dominance = true`` promises that the node SQL returns, right after the declared columns
and in the declared order of such measures, ``m__top1`` and ``m__top2``: the largest and
the second-largest absolute contribution of one person to the cell (the sum over the
person's rows, then ``abs``; ``m__top2`` is NULL in a one-person cell), of ``m``'s type.
The node's executor accepts exactly those columns (`Output.node_columns`), its
disclosure engine judges each cell by them and drops them: they never leave the node,
so partials, the combine SQL and its fixtures never see them. In DuckDB, per cell over a
per-person CTE: ``max(abs(m), 2)[1] AS m__top1, max(abs(m), 2)[2] AS m__top2``.

**Node SQL** reads the level's datasets as tables named after them. `Model.node_sql` holds
each level's file as written (what a node runs: declared columns, then helpers);
`Model.sql` holds what the level contributes to a result, the declared columns only: the
same text for a model without helpers, else the file wrapped in ``SELECT <declared
columns> FROM (...)``, so a direct query over the union (a test, a benchmark) reads as
the partials do.

**Combine SQL** reads one table, ``partials``: the union of every node's output rows with
a ``node_id`` VARCHAR column added in front. For an ``aggregate``, combine returns the
declared output columns again (e.g. sums of the node cells). Counts of persons summed
over nodes count a person present at two nodes twice; models say so in ``notes`` and in
the count's description.

The **digest** is SHA-256 over the manifest bytes and the bytes of every SQL file it names,
each framed with its label and length, in a fixed order (see ``compute_digest``). Fixtures
are not part of it: they test a model, they do not change what runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType

from analyses._linkage import (
    BuildsOn,
    Linkage,
    names_key_table,
    read_builds_on,
    read_linkage,
    uses_token_function,
)
from analyses._output import Output, read_output
from analyses._params import Parameter, bind, check_order, parameter_from_toml, parse_assignments
from analyses._sql import select_columns, sql_parameters
from analyses._toml import Table, display_path, parse_toml
from analyses.datasets import load_standard, standard_names
from analyses.errors import ManifestError, ParameterError

#: Node levels, in the order SQL files are listed and digested.
NODE_LEVELS = ("province", "registry", "ministry")
SQL_ROLES = (*NODE_LEVELS, "combine", "resolve")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?$")
_METHOD_CODE = re.compile(r"^[A-Z]+-\d+[a-z]?$")
DIGEST_CONTEXT = b"fedaudit-analysis/v1\n"


@dataclass(frozen=True)
class Model:
    """A loaded, validated analysis model; `sql` is keyed by level, `combine` or `resolve`.

    `node_sql` maps each node level to its SQL file as written, which is what the node
    executes; `sql[level]` returns only the declared output columns of it (see the module
    docstring on dominance helpers). The two are the same text when the output declares
    no dominance measure.
    """

    id: str
    version: str
    method_code: str
    title_zh: str
    title_en: str
    objective: str
    notes: str
    category: tuple[str, ...]
    problem_types: tuple[str, ...]
    legal_basis: tuple[str, ...]
    steps: tuple[str, ...]
    audit_suggestion: str
    author_unit: str
    datasets: Mapping[str, tuple[str, ...]]
    parameters: tuple[Parameter, ...]
    parameter_order: tuple[tuple[str, str], ...]
    output: Output
    sql_files: Mapping[str, str]
    sql: Mapping[str, str]
    node_sql: Mapping[str, str]
    path: Path
    digest: str
    #: The ``[linkage]`` table of a linkage model (analyses._linkage), else None.
    linkage: Linkage | None = None
    #: The ``[builds_on]`` table of a model reading an earlier presence task's return.
    builds_on: BuildsOn | None = None

    @property
    def area(self) -> str:
        return self.id.split(".")[0]

    @property
    def name(self) -> str:
        return self.id.split(".")[1]

    @property
    def kind(self) -> str:
        return self.output.kind

    @property
    def levels(self) -> tuple[str, ...]:
        """The node levels that run this model, in NODE_LEVELS order."""
        return tuple(level for level in NODE_LEVELS if level in self.datasets)

    def parameter(self, name: str) -> Parameter:
        """The declared parameter called `name`; raises ParameterError if there is none."""
        for param in self.parameters:
            if param.name == name:
                return param
        known = ", ".join(p.name for p in self.parameters) or "none"
        raise ParameterError(
            f"parameter {name} is not a parameter of {self.id}; its parameters are: {known}"
        )

    def bind_parameters(self, values: Mapping[str, object]) -> dict[str, object]:
        """Typed values with defaults filled, in declaration order.

        Raises ParameterError naming the parameter and the rule: unknown name, missing
        required value, wrong type, below min, above max, not in choices, month not on
        the 1st, or a `parameter_order` pair out of order.
        """
        return bind(self.id, self.parameters, self.parameter_order, values)

    def parse_parameters(self, items: Iterable[str]) -> dict[str, object]:
        """Parses NAME=VALUE strings (e.g. from --param) into typed values, not yet bound.

        Raises ParameterError for a malformed item, an unknown name or a bad value.
        """
        return parse_assignments(self.id, self.parameters, items)

    def to_dict(self) -> dict[str, object]:
        """Everything in the manifest plus the digest, JSON-friendly."""
        return {
            "id": self.id,
            "version": self.version,
            "digest": self.digest,
            "method_code": self.method_code,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "objective": self.objective,
            "notes": self.notes,
            "category": list(self.category),
            "problem_types": list(self.problem_types),
            "legal_basis": list(self.legal_basis),
            "steps": list(self.steps),
            "audit_suggestion": self.audit_suggestion,
            "author_unit": self.author_unit,
            "datasets": {level: list(names) for level, names in self.datasets.items()},
            "parameters": [p.to_dict() for p in self.parameters],
            "parameter_order": [list(pair) for pair in self.parameter_order],
            "output": {
                "kind": self.output.kind,
                "columns": [asdict(c) for c in self.output.columns],
            },
            "linkage": self.linkage.to_dict() if self.linkage else None,
            "builds_on": self.builds_on.to_dict() if self.builds_on else None,
            "sql": dict(self.sql_files),
            "path": str(self.path),
        }


def compute_digest(parts: Sequence[tuple[str, bytes]]) -> str:
    """SHA-256 hex over labelled parts, each label and body framed by its 8-byte length."""
    h = hashlib.sha256(DIGEST_CONTEXT)
    for label, body in parts:
        encoded = label.encode("utf-8")
        for chunk in (encoded, body):
            h.update(len(chunk).to_bytes(8, "big"))
            h.update(chunk)
    return h.hexdigest()


def _read_datasets(table: Table) -> dict[str, tuple[str, ...]]:
    known = standard_names()
    datasets = {}
    for level in table.data:
        if level not in NODE_LEVELS:
            raise table.error(level, f"is not a node level; use {', '.join(NODE_LEVELS)}")
        names = table.strings(level, min_items=1)
        for i, name in enumerate(names):
            if name not in known:
                raise table.error(f"{level}[{i + 1}]", f"{name!r} is not a standard dataset; "
                                  f"the standards are: {', '.join(sorted(known))}")
            if level not in load_standard(name).levels:
                raise table.error(f"{level}[{i + 1}]", f"{name} is not held at {level} nodes "
                                  f"(its standard says {', '.join(load_standard(name).levels)})")
        datasets[level] = names
    if not datasets:
        raise table.error("", "lists no level; add e.g. province = [\"benefit_payment\"]")
    table.finish()
    return {level: datasets[level] for level in NODE_LEVELS if level in datasets}


def _read_sql(table: Table, folder: Path, levels: Sequence[str], kind: str) -> dict[str, str]:
    files = {}
    for role in table.data:
        if role not in SQL_ROLES:
            raise table.error(role, "is not a SQL role; use a level, combine or resolve")
    for role in SQL_ROLES:
        name = table.string(role, required=role == "combine" or role in levels)
        if name is None:
            continue
        if role in NODE_LEVELS and role not in levels:
            raise table.error(role, f"[datasets] lists no {role} datasets; add them or remove it")
        if role == "resolve" and kind == "aggregate":
            raise table.error(role, "an aggregate has no resolve step; remove it")
        target = (folder / name).resolve()
        if Path(name).is_absolute() or not target.is_relative_to(folder.resolve()):
            raise table.error(role, f"{name!r} must be a file inside the model folder")
        if not target.is_file():
            raise table.error(role, f"{name}: no such file in {display_path(folder)}")
        files[role] = name
    table.finish()
    return files


def load_model(path: Path | str) -> Model:
    """Loads and validates the model in folder `path` (or its manifest.toml).

    Raises ManifestError naming the file and key at fault for unknown keys, wrong types,
    bad parameter specs, unknown datasets, missing or invalid SQL files, an id that
    differs from the folder, or an output declaration that breaks its kind's rules.
    """
    path = Path(path)
    folder = path.parent if path.name == "manifest.toml" else path
    manifest_path = folder / "manifest.toml"
    try:
        manifest_bytes = manifest_path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{display_path(manifest_path)}: cannot read it ({exc.strerror}); "
                            "a model folder needs a manifest.toml") from exc
    top = Table(parse_toml(manifest_bytes, manifest_path), manifest_path)

    expected_id = f"{folder.parent.name}.{folder.name}"
    model_id = top.string("id")
    if model_id != expected_id:
        raise top.error("id", f"{model_id!r} must equal <area>.<name> of its folder, "
                        f"{expected_id!r}")
    if not all(_IDENT.match(part) for part in model_id.split(".")):
        raise top.error("id", "area and name are lower_snake_case")
    fields = {
        "version": top.string("version", check=lambda s: None if _SEMVER.match(s)
                              else f"{s!r} is not a semantic version such as 1.0.0"),
        "method_code": top.string("method_code", check=lambda s: None if _METHOD_CODE.match(s)
                                  else f"{s!r} is not a method code such as FUND-00 or PEN-06b"),
        **{key: top.string(key) for key in ("title_zh", "title_en", "objective")},
        "notes": top.string("notes", required=False) or "",
        "category": top.strings("category", min_items=2),
        "problem_types": top.strings("problem_types"),
        "legal_basis": top.strings("legal_basis", min_items=1),
        "steps": top.strings("steps", min_items=1),
        **{key: top.string(key) for key in ("audit_suggestion", "author_unit")},
    }
    if len(fields["category"]) != 2:
        raise top.error("category", "is two levels: [area, problem type]")

    datasets = _read_datasets(top.table("datasets"))
    param_tables = top.tables("parameter")
    parameters = tuple(parameter_from_toml(t) for t in param_tables)
    by_name: dict[str, Parameter] = {}
    for table, param in zip(param_tables, parameters, strict=True):
        if param.name in by_name:
            raise table.error("name", f"{param.name} is declared twice")
        by_name[param.name] = param
    order = []
    raw_order = top.raw("parameter_order", required=False) or []
    if not isinstance(raw_order, list):
        raise top.error("parameter_order", "must be an array of [first, second] name pairs")
    for i, pair in enumerate(raw_order):
        pair = pair if isinstance(pair, list) else [pair]
        if problem := check_order(by_name, pair):
            raise top.error(f"parameter_order[{i + 1}]", problem)
        order.append((pair[0], pair[1]))

    local_only = {col: name for names in datasets.values() for name in names
                  for col in load_standard(name).local_only_columns}
    output = read_output(top.table("output"), local_only)
    linkage_table = top.table("linkage", required=False)
    linkage = (read_linkage(linkage_table, output, tuple(datasets))
               if linkage_table is not None else None)
    builds_on_table = top.table("builds_on", required=False)
    builds_on = (read_builds_on(builds_on_table, by_name)
                 if builds_on_table is not None else None)
    if builds_on is not None and linkage is not None:
        raise builds_on_table.error("model", "a linkage model cannot build on another task; "
                                    "remove [builds_on] or [linkage]")
    sql_table = top.table("sql")
    sql_files = _read_sql(sql_table, folder, tuple(datasets), output.kind)
    if linkage is not None and linkage.resolves and "resolve" not in sql_files:
        raise sql_table.error("resolve", "a linkage model needs a resolve SQL file that "
                              "re-identifies the returned tokens at the node")
    if linkage is not None and not linkage.resolves and "resolve" in sql_files:
        raise sql_table.error("resolve", f"a {linkage.pattern} model opens no cases; remove "
                              "its resolve SQL")
    top.finish()

    parts = [("manifest.toml", manifest_bytes)]
    sql, used = {}, set()
    for role, name in sql_files.items():
        try:
            body = (folder / name).read_bytes()
        except OSError as exc:
            raise sql_table.error(role, f"{name}: cannot read it ({exc.strerror})") from exc
        parts.append((f"sql.{role}={name}", body))
        try:
            sql[role] = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise sql_table.error(role, f"{name} is not UTF-8 text; save it as UTF-8") from exc
        names = sql_parameters(
            sql[role], lambda msg, r=role, n=name: sql_table.error(r, f"{n}: {msg}")
        )
        undeclared = sorted(names - set(by_name))
        if undeclared:
            raise sql_table.error(role, f"{name} uses ${undeclared[0]}, which is not a "
                                  "declared parameter; declare it with [[parameter]]")
        used |= names
        if names_key_table(sql[role]):
            raise sql_table.error(role, f"{name} names the task key table, which no model "
                                  "may read; compute tokens with fa_token(id, id_status)")
        if uses_token_function(sql[role]) and (
                (linkage is None and builds_on is None) or role == "combine"):
            raise sql_table.error(role, f"{name} calls fa_token, which only the node SQL and "
                                  "resolve SQL of a model with [linkage] or [builds_on] can "
                                  "use")
    if builds_on is not None:
        used.add(builds_on.parameter)  # read by the node, not by the SQL
    for table, param in zip(param_tables, parameters, strict=True):
        if param.name not in used:
            raise table.error("name", f"{param.name} is not used by any SQL file; use it as "
                              f"${param.name} or remove it")
    node_sql = {level: sql[level] for level in NODE_LEVELS if level in sql}
    if output.helpers:
        sql.update({level: select_columns(text, output.names) for level, text in node_sql.items()})
    return Model(
        id=model_id,
        **fields,
        datasets=MappingProxyType(datasets),
        parameters=parameters,
        parameter_order=tuple(order),
        output=output,
        sql_files=MappingProxyType(sql_files),
        sql=MappingProxyType(sql),
        node_sql=MappingProxyType(node_sql),
        linkage=linkage,
        builds_on=builds_on,
        path=folder,
        digest=compute_digest(parts),
    )
