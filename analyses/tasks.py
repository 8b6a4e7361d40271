"""Signed task files: a request to run one library analysis, signed by its issuers.

A task file is JSON written for people and machines alike:

    {"format": "fedaudit-task/v1",
     "spec": {...},                # a readable view of the spec, for review only
     "spec_b64": "...",            # the serialized TaskSpec bytes: what is signed
     "signatures": [{"signer_id": ..., "key_id": ..., "signature": ...}]}

Signatures cover the exact spec bytes (prefixed with a context string); nothing is
re-serialized before verifying. The readable view must equal the signed bytes: a file
edited by hand after it was created is refused, never silently "fixed".
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from analyses.errors import AnalysisError
from proto import task_pb2

TASK_FORMAT = "fedaudit-task/v1"
SIGNATURE_CONTEXT = b"fedaudit-task/v1\n"
OUTPUT_KINDS = ("aggregate", "tokens", "flags")
SELECTOR_KEYS = ("level", "region", "dataset")


class TaskFileError(AnalysisError):
    """A task file that cannot be read, or whose readable view disagrees with its bytes."""


@dataclass(frozen=True)
class TaskSignature:
    signer_id: str
    key_id: str
    signature: bytes


@dataclass(frozen=True)
class SignedTask:
    """The exact signed spec bytes, their signatures, and the file's readable view."""

    spec_bytes: bytes
    signatures: tuple[TaskSignature, ...] = ()
    view: Mapping | None = field(default=None, compare=False)

    @property
    def spec(self) -> task_pb2.TaskSpec:
        """The parsed spec; raises TaskFileError if the bytes are not a TaskSpec."""
        spec = task_pb2.TaskSpec()
        try:
            spec.ParseFromString(self.spec_bytes)
        except DecodeError as exc:
            raise TaskFileError(f"the signed spec bytes are not a task spec ({exc})") from exc
        return spec

    def check_view(self) -> None:
        """Raises TaskFileError when the readable view differs from the signed bytes."""
        if self.view is None:
            return
        actual = spec_view(self.spec)
        if actual != self.view:
            keys = sorted(
                k for k in set(actual) | set(self.view) if actual.get(k) != self.view.get(k)
            )
            raise TaskFileError(
                "the readable spec differs from the signed bytes "
                f"(field {', '.join(keys)}): the file was changed after it was created"
            )

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "format": TASK_FORMAT,
                    "spec": spec_view(self.spec),
                    "spec_b64": base64.b64encode(self.spec_bytes).decode(),
                    "signatures": [
                        {
                            "signer_id": s.signer_id,
                            "key_id": s.key_id,
                            "signature": base64.b64encode(s.signature).decode(),
                        }
                        for s in self.signatures
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )

    def to_proto(self) -> task_pb2.SignedTask:
        return task_pb2.SignedTask(
            spec=self.spec_bytes,
            signatures=[
                task_pb2.Signature(signer_id=s.signer_id, key_id=s.key_id, signature=s.signature)
                for s in self.signatures
            ],
        )

    @classmethod
    def from_proto(cls, message: task_pb2.SignedTask) -> SignedTask:
        return cls(
            spec_bytes=message.spec,
            signatures=tuple(
                TaskSignature(s.signer_id, s.key_id, s.signature) for s in message.signatures
            ),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedTask:
        """The task of a serialized SignedTask message (as stores and outboxes keep it)."""
        message = task_pb2.SignedTask()
        message.ParseFromString(data)
        return cls.from_proto(message)


def spec_view(spec: task_pb2.TaskSpec) -> dict:
    """The readable JSON view of a spec, as written into task files."""
    return json_format.MessageToDict(spec, preserving_proto_field_name=True)


def signing_message(spec_bytes: bytes) -> bytes:
    """The bytes an issuer signs: a context string, then the exact spec bytes."""
    return SIGNATURE_CONTEXT + spec_bytes


# -- parameters -------------------------------------------------------------------------


def encode_parameters(values: Mapping[str, object]) -> list[task_pb2.Parameter]:
    """Typed Python values to protobuf parameters, in name order."""
    out = []
    for name in sorted(values):
        value = values[name]
        pv = task_pb2.ParamValue()
        if isinstance(value, bool):
            pv.bool_value = value
        elif isinstance(value, int):
            pv.int_value = value
        elif isinstance(value, float):
            pv.float_value = value
        elif isinstance(value, decimal.Decimal):
            pv.decimal_value = str(value)
        elif isinstance(value, dt.date):
            pv.date_value = value.isoformat()
        elif isinstance(value, str):
            pv.string_value = value
        else:
            raise TypeError(f"parameter {name}: cannot encode {type(value).__name__}")
        out.append(task_pb2.Parameter(name=name, value=pv))
    return out


def decode_parameters(spec: task_pb2.TaskSpec) -> dict[str, object]:
    """Protobuf parameters to typed Python values; raises TaskFileError on bad values."""
    values: dict[str, object] = {}
    for p in spec.parameters:
        if p.name in values:
            raise TaskFileError(f"parameter {p.name} is given twice")
        kind = p.value.WhichOneof("value")
        raw = getattr(p.value, kind) if kind else None
        try:
            if kind == "decimal_value":
                raw = decimal.Decimal(raw)
            elif kind == "date_value":
                raw = dt.date.fromisoformat(raw)
        except (decimal.InvalidOperation, ValueError) as exc:
            raise TaskFileError(f"parameter {p.name}: {raw!r} is not a valid {kind}") from exc
        if kind is None:
            raise TaskFileError(f"parameter {p.name} has no value")
        values[p.name] = raw
    return values


# -- drafting and signing ---------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> dt.timedelta:
    """Parses '90s', '30m', '2h' or '7d'; raises TaskFileError otherwise."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise TaskFileError(
            f"{text!r} is not a duration: use a number and a unit, e.g. 2h, 30m, 7d"
        )
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_targets(values: Sequence[str]) -> task_pb2.Targets:
    """Splits --target values into node ids and key=value selectors."""
    targets = task_pb2.Targets()
    for value in values:
        if "=" in value:
            key, _, wanted = value.partition("=")
            if key not in SELECTOR_KEYS or not wanted:
                raise TaskFileError(
                    f"target {value!r}: a selector is KEY=VALUE with KEY one of "
                    f"{', '.join(SELECTOR_KEYS)}, e.g. level=province"
                )
            targets.selectors.append(value)
        elif value:
            targets.node_ids.append(value)
    if not targets.node_ids and not targets.selectors:
        raise TaskFileError("a task needs at least one --target (a node id or e.g. level=province)")
    return targets


def draft_task(
    *,
    federation: str,
    analysis_id: str,
    analysis_version: str,
    analysis_digest: str,
    output_kind: str,
    parameters: Mapping[str, object],
    targets: task_pb2.Targets,
    purpose: task_pb2.Purpose,
    lifetime: dt.timedelta,
    key_originator: str = "",
    now: dt.datetime | None = None,
) -> SignedTask:
    """Builds and serializes a new unsigned task with a fresh random task id."""
    if output_kind not in OUTPUT_KINDS:
        raise TaskFileError(f"output kind {output_kind!r} is not one of {', '.join(OUTPUT_KINDS)}")
    issued = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    spec = task_pb2.TaskSpec(
        task_id=secrets.token_hex(16),
        federation=federation,
        analysis_id=analysis_id,
        analysis_version=analysis_version,
        analysis_digest=analysis_digest,
        output_kind=output_kind,
        parameters=encode_parameters(parameters),
        targets=targets,
        purpose=purpose,
        key_originator=key_originator,
    )
    spec.issued_at.FromDatetime(issued)
    spec.expires_at.FromDatetime(issued + lifetime)
    return SignedTask(spec_bytes=spec.SerializeToString(deterministic=True))


def add_signature(task: SignedTask, signer_id: str, private_key) -> SignedTask:
    """Returns the task with one more signature by private_key (an Ed25519 key).

    Raises TaskFileError if the readable view was edited or this key already signed.
    """
    from certs import key_id, public_bytes, sign

    task.check_view()
    kid = key_id(public_bytes(private_key))
    if any(s.key_id == kid for s in task.signatures):
        raise TaskFileError(
            f"this key ({kid}) has already signed the task; approvals need other keys"
        )
    signature = TaskSignature(signer_id, kid, sign(private_key, signing_message(task.spec_bytes)))
    return SignedTask(task.spec_bytes, (*task.signatures, signature))


# -- files ------------------------------------------------------------------------------


def load_task(path: str | os.PathLike) -> SignedTask:
    """Reads a task file; raises TaskFileError when it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TaskFileError(f"{path}: no such task file") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TaskFileError(f"{path}: not a task file (not JSON: {exc})") from exc
    return task_from_dict(data, source=str(path))


def task_from_dict(data: object, source: str = "task") -> SignedTask:
    """Builds a SignedTask from a parsed task file; raises TaskFileError on bad structure."""
    if not isinstance(data, dict) or data.get("format") != TASK_FORMAT:
        raise TaskFileError(f"{source}: not a task file (format is not {TASK_FORMAT})")
    try:
        spec_bytes = base64.b64decode(data["spec_b64"], validate=True)
        signatures = tuple(
            TaskSignature(
                str(s["signer_id"]),
                str(s["key_id"]),
                base64.b64decode(s["signature"], validate=True),
            )
            for s in data.get("signatures", [])
        )
        view = data["spec"]
    except (KeyError, TypeError, binascii.Error) as exc:
        raise TaskFileError(f"{source}: damaged task file ({type(exc).__name__}: {exc})") from exc
    task = SignedTask(spec_bytes, signatures, view=view)
    task.spec  # noqa: B018 - raises TaskFileError if the bytes are not a spec
    return task


def save_task(task: SignedTask, path: str | os.PathLike) -> None:
    """Writes the task file atomically (a crash leaves the old file or the new one)."""
    from certs import write_file

    write_file(path, task.to_json())


def is_target(
    targets: task_pb2.Targets, *, node_id: str, level: str, region: str, datasets: Sequence[str]
) -> bool:
    """True when the node is named, or any selector matches its roster entry."""
    if node_id in targets.node_ids:
        return True
    for selector in targets.selectors:
        key, _, wanted = selector.partition("=")
        if key == "level" and level == wanted:
            return True
        if key == "region" and region == wanted:
            return True
        if key == "dataset" and wanted in datasets:
            return True
    return False
