"""A node's part in linkage tasks: the task key, sealed attributes, and its return.

Before a linkage task is accepted the node obtains ``K_task`` (DESIGN §5): the key
originator named in the signed task draws it, keeps it and publishes it wrapped for every
other target; any other target opens the envelope that came with the delivery, after
checking the originator's signature against its own roster. A node that cannot get the
key refuses the task as KEY_UNAVAILABLE without consuming it, so it may come again.

After the run, the attribute columns the coordinator need not read are sealed (padded to
one width per column, so a dummy row's sealed value is as long as a real one), and the
node keeps its real tokens in ``HOME/linkage/<task_id>.tokens``. When the coordinator
returns the node's matches, every returned token must be one of those real tokens: a
foreign token (another node's, or a forged match on a dummy) makes the node refuse the
whole return. Otherwise the attributes are opened, the model's resolve SQL re-identifies
the tokens against the node's own snapshots and one case opens per token (`node.cases`).
The return of a presence task opens no case: it is kept as ``<task_id>.returned`` for a
later task that builds on it (`node.prior`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from analyses.tasks import decode_parameters, is_target
from node.errors import NodeError, Refusal
from node.tokens import attribute_key, open_attribute, seal_attribute

__all__ = [
    "ForeignToken",
    "LinkageFolder",
    "obtain_task_key",
    "open_columns",
    "seal_columns",
]

LINKAGE_DIR = "linkage"
_SEAL_WIDTH = 32  # sealed plaintexts are NUL-padded to a multiple of this many bytes
_DAY = 86_400


class ForeignToken(NodeError):
    """A return holding a token this node never submitted as a real token."""


def recipients(spec, roster) -> list[str]:
    """The roster nodes the task targets (the key originator among them)."""
    return [n.id for n in roster.nodes()
            if is_target(spec.targets, node_id=n.id, level=n.level, region=n.region,
                         datasets=n.datasets)]


def obtain_task_key(home, spec, envelope: bytes | None,
                    publish: Callable[[list], None] | None, *, shared: bool = True) -> bytes:
    """Gets K_task for a linkage task and keeps it in the node's key store.

    A key that is not `shared` (a local flags model) is drawn by this node for itself.

    The originator draws it (or reuses the one it already keeps), stores it, then calls
    `publish` with the signed envelopes for the other targets. Another target opens
    `envelope` (JSON of a signed `WrappedKey`). Raises Refusal KEY_UNAVAILABLE, naming the
    check that failed, before the task is consumed.
    """
    from certs.hpke import WrappedKey
    from node.taskkeys import (
        KeyEnvelopeError,
        KeyStore,
        draw_task_key,
        make_envelopes,
        open_envelope,
    )

    kit = home.kit
    store = KeyStore(home.path)
    erase_after = spec.expires_at.ToSeconds() + home.policy().verification_days * _DAY
    originator = spec.key_originator
    try:
        if not shared:
            try:
                return store.get(spec.task_id)
            except KeyEnvelopeError:
                key = draw_task_key()
                store.put(spec.task_id, key, erase_after)
                return key
        if not originator:
            raise KeyEnvelopeError("the task names no key originator; a linkage task must "
                                   "name the node that draws its key")
        roster = kit.roster()
        if originator == kit.party_id:
            try:
                key = store.get(spec.task_id)
            except KeyEnvelopeError:
                key = draw_task_key()
                store.put(spec.task_id, key, erase_after)
            targets = recipients(spec, roster)
            if originator not in targets:
                raise KeyEnvelopeError(f"the key originator {originator} is not a target of "
                                       "the task")
            envelopes = make_envelopes(key, task_id=spec.task_id, originator_kit=kit,
                                       roster=roster, recipients=targets)
            if publish is None:
                raise KeyEnvelopeError("this node is the key originator but has no coordinator "
                                       "to publish the key to (linkage tasks run online only)")
            publish(envelopes)
            return key
        if not envelope:
            raise KeyEnvelopeError(f"no key envelope from {originator} came with the task; "
                                   "the coordinator sends it once the originator published it")
        try:
            wrapped = WrappedKey.from_dict(json.loads(envelope))
        except (ValueError, TypeError) as exc:
            raise KeyEnvelopeError(f"the key envelope is not readable: {exc}") from exc
        key = open_envelope(wrapped, task_id=spec.task_id, expected_originator=originator,
                            kit=kit, roster=roster)
        store.put(spec.task_id, key, erase_after)
        return key
    except NodeError as exc:  # KeyEnvelopeError and roster problems alike
        raise Refusal("KEY_UNAVAILABLE", str(exc)) from exc


def _pad(value: str, width: int) -> str:
    return value + "\x00" * (width - len(value.encode("utf-8")))


def seal_columns(table: pa.Table, task_key: bytes, task_id: str,
                 columns: tuple[str, ...]) -> pa.Table:
    """`table` with each of `columns` replaced by its sealed text (VARCHAR).

    Values are written as text (dates ISO, decimals as written), NULL as empty text, then
    NUL-padded to one width per column and sealed with the row's token authenticated
    with them, so that neither the length nor the place of a sealed value says anything.
    """
    if not columns:
        return table
    key = attribute_key(task_key, task_id)
    tokens = table.column("token").to_pylist()
    for name in columns:
        texts = ["" if v is None else str(v) for v in table.column(name).to_pylist()]
        longest = max((len(t.encode("utf-8")) for t in texts), default=0)
        width = max(_SEAL_WIDTH, -(-(longest + 1) // _SEAL_WIDTH) * _SEAL_WIDTH)
        sealed = [seal_attribute(key, name, _pad(t, width), token=tok)
                  for t, tok in zip(texts, tokens, strict=True)]
        index = table.column_names.index(name)
        table = table.set_column(index, pa.field(name, pa.string()),
                                 pa.array(sealed, pa.string()))
    return table


def open_columns(table: pa.Table, task_key: bytes, task_id: str,
                 types: dict[str, pa.DataType]) -> pa.Table:
    """`table` with each sealed column of `types` opened and cast to its type.

    Raises TokenError when a value does not open (another task, column or token, or a
    changed byte) and NodeError when an opened value does not fit its declared type.
    """
    key = attribute_key(task_key, task_id)
    tokens = table.column("token").to_pylist()
    for name, kind in types.items():
        if name not in table.column_names:
            continue
        texts = []
        for sealed, token in zip(table.column(name).to_pylist(), tokens, strict=True):
            plain = "" if sealed is None else open_attribute(key, name, sealed, token=token)
            plain = plain.rstrip("\x00")
            texts.append(plain or None)
        try:
            opened = pc.cast(pa.array(texts, pa.string()), kind)
        except pa.ArrowException as exc:
            raise NodeError(f"the returned {name} values do not read as {kind}") from exc
        table = table.set_column(table.column_names.index(name), pa.field(name, kind), opened)
    return table


class LinkageFolder:
    """``HOME/linkage``: per linkage task, the signed task, the real tokens and the return."""

    def __init__(self, home_path: Path) -> None:
        self.path = Path(home_path) / LINKAGE_DIR

    def _file(self, task_id: str, suffix: str) -> Path:
        return self.path / f"{task_id}{suffix}"

    def keep(self, task_id: str, signed_task: bytes, real_tokens: pa.Array) -> None:
        """Keeps the task and the tokens this node submitted for real (dummies left out)."""
        from certs import write_file

        self.path.mkdir(parents=True, exist_ok=True)
        sink = pa.BufferOutputStream()
        table = pa.table({"token": pa.array(real_tokens, pa.string())})
        with pa.ipc.new_stream(sink, table.schema) as out:
            out.write_table(table)
        write_file(self._file(task_id, ".tokens"), sink.getvalue().to_pybytes(), mode=0o600)
        write_file(self._file(task_id, ".task"), signed_task, mode=0o600)

    def signed_task(self, task_id: str) -> bytes:
        try:
            return self._file(task_id, ".task").read_bytes()
        except FileNotFoundError as exc:
            raise NodeError(f"task {task_id} did not run here as a linkage task, so its "
                            "return cannot be processed") from exc

    def real_tokens(self, task_id: str) -> pa.Array:
        return _tokens_of(self._file(task_id, ".tokens"))

    def keep_return(self, task_id: str, returned: pa.Table) -> None:
        """Keeps a presence task's returned tokens for the tasks that build on it."""
        from certs import write_file

        table = pa.table({"token": returned.column("token")})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as out:
            out.write_table(table)
        write_file(self._file(task_id, ".returned"), sink.getvalue().to_pybytes(), mode=0o600)

    def returned(self, task_id: str) -> pa.Table:
        """The tokens a processed presence task got back (a table of one token column)."""
        return pa.table({"token": _tokens_of(self._file(task_id, ".returned"))})

    def processed(self, task_id: str) -> bool:
        """Whether the task's return was processed (its cases opened) already."""
        return self._file(task_id, ".return.json").exists()

    def mark_processed(self, task_id: str, now: float | None = None) -> None:
        from certs import write_file

        write_file(self._file(task_id, ".return.json"),
                   json.dumps({"processed_at": int(now or time.time())}).encode(), mode=0o600)


def _tokens_of(path: Path) -> pa.Array:
    """The token column of an Arrow IPC stream file."""
    with pa.ipc.open_stream(path.read_bytes()) as reader:
        return reader.read_all().column("token").combine_chunks()


def check_own_tokens(returned: pa.Table, real: pa.Array) -> None:
    """Raises ForeignToken unless every returned token is one of the node's real tokens."""
    tokens = returned.column("token")
    foreign = pc.sum(pc.invert(pc.is_in(tokens, value_set=real))).as_py() or 0
    if tokens.null_count or foreign:
        raise ForeignToken(f"the coordinator returned {foreign + tokens.null_count} token(s) "
                           "this node never submitted; the whole return is refused")


def released_tokens(home, task_id: str) -> pa.Array:
    """Every token of the output this node released for the task (dummies included)."""
    from node.outbox import Outbox

    return _tokens_of(Outbox(home.path / "outbox").output_path(task_id))


def process_return(home, task_id: str, returned: pa.Table, *, now: float | None = None) -> int:
    """Checks, opens and resolves a linkage return, opening the node's cases once.

    Returns the number of cases the task opened here (leads and cases are kept by the
    case store, `node.cases`). A return already processed is not processed again.
    Raises ForeignToken, KeyEnvelopeError (the key is gone), TokenError (a sealed value
    that does not open) or ExecutionError from the resolve SQL; every outcome is logged
    in the audit log.
    """
    from analyses import load_library
    from analyses.tasks import SignedTask
    from node.cases import CaseStore
    from node.executor import execute_resolve, output_schema
    from node.runner import current_snapshots, held_datasets
    from node.taskkeys import KeyStore

    folder = LinkageFolder(home.path)
    if folder.processed(task_id):
        with CaseStore.at_home(home) as store:
            return store.task(task_id).cases
    audit = home.audit_log()
    spec = SignedTask.from_bytes(folder.signed_task(task_id)).spec
    model = load_library().get(spec.analysis_id)
    try:
        real = folder.real_tokens(task_id)
        if model.linkage.shares_key:
            check_own_tokens(returned, real)
        else:
            # A local model's return is the node's whole released set, dummies included.
            check_own_tokens(returned, released_tokens(home, task_id))
            returned = returned.filter(pc.is_in(returned.column("token"), value_set=real))
        key = KeyStore(home.path).get(task_id, now=now)
        if not model.linkage.resolves:
            return _keep_presence(home, folder, task_id, model, returned, now)
        declared = output_schema(model)
        sealed = model.linkage.sealed_columns(model.output)
        opened = open_columns(returned, key, task_id,
                              {name: declared.field(name).type for name in sealed})
        level = home.kit.level
        snapshots = current_snapshots(home, held_datasets(home, model))
        lines = execute_resolve(model, level, decode_parameters(spec),
                                {name: path for name, (_, path) in snapshots.items()},
                                home.policy(), key, opened)
    except NodeError as exc:
        code = "FOREIGN_TOKEN" if isinstance(exc, ForeignToken) else "RETURN_FAILED"
        audit.append("return.refused", task_id=task_id, code=code,
                     reason=getattr(exc, "public", None) or str(exc))
        raise
    leads = pc.count_distinct(returned.column("token")).as_py() if returned.num_rows else 0
    title = f"{model.title_zh} ({model.title_en})"
    with CaseStore.at_home(home) as store:
        cases = store.open_cases(task_id, model.id, title, lines, now=now, leads=leads,
                                 audit_log=audit)
    folder.mark_processed(task_id, now)
    audit.append("return.processed", task_id=task_id, leads=leads, cases=cases)
    return cases


def _keep_presence(home, folder: LinkageFolder, task_id: str, model, returned: pa.Table,
                   now) -> int:
    """Keeps a checked presence return and records it in the case store with no case, so
    the verification report tells HQ how many of the node's probes were found elsewhere."""
    from analyses._linkage import RESOLVE_COLUMNS
    from node.cases import CaseStore
    from node.executor import resolve_schema

    matched = pc.count_distinct(returned.column("token")).as_py() if returned.num_rows else 0
    folder.keep_return(task_id, returned)
    no_lines = resolve_schema(model, RESOLVE_COLUMNS).empty_table()
    with CaseStore.at_home(home) as store:
        store.open_cases(task_id, model.id, f"{model.title_zh} ({model.title_en})", no_lines,
                         now=now, leads=matched, audit_log=home.audit_log())
    folder.mark_processed(task_id, now)
    home.audit_log().append("return.processed", task_id=task_id, leads=matched, cases=0)
    return 0
