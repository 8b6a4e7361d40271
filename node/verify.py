"""The node's task verification pipeline (DESIGN §3 step 4): every check, in order.

Each failure raises a Refusal with a stable code and one sentence saying why; the
sentence names no data of the node. `verify_task` never returns a bool to forget.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from analyses.tasks import SignedTask, TaskFileError, decode_parameters, is_target, signing_message
from node.errors import Refusal
from node.policy import Policy
from node.trust import TrustedIssuer, TrustList

#: The refusal codes, in pipeline order, with what each means.
REFUSAL_CODES = {
    "BAD_SIGNATURE": "the task file is damaged, or a signature does not match the signed bytes",
    "UNKNOWN_ISSUER": "a signature comes from a key this node does not trust",
    "INSUFFICIENT_APPROVALS": "the signers do not hold the roles the node's policy demands",
    "EXPIRED": "the task's validity window has passed",
    "NOT_YET_VALID": "the task's validity window has not started",
    "REPLAYED": "this task id was already accepted by this node",
    "NOT_A_TARGET": "the task does not name this node",
    "UNKNOWN_ANALYSIS": "the analysis is not in this node's library",
    "DIGEST_MISMATCH": "the node's copy of the analysis differs from the one signed",
    "NOT_ALLOWED": "the node's policy does not allow this analysis or validity window",
    "BAD_PARAMETERS": "the parameters do not satisfy the analysis' declaration",
    "MISSING_DATASET": "a dataset the analysis needs has not been ingested at this node",
    "KEY_UNAVAILABLE": "a linkage task whose key this node cannot draw, open or trust",
    "PRIOR_UNAVAILABLE": "the task builds on an earlier task whose return this node lacks",
}


@dataclass(frozen=True)
class NodeIdentity:
    """What the pipeline needs to know about the node itself (from its kit)."""

    node_id: str
    federation: str
    level: str
    region: str
    datasets: tuple[str, ...]


@dataclass(frozen=True)
class Accepted:
    """A task that passed every check: the spec, its model and typed parameters."""

    task: SignedTask
    spec: object
    model: object
    parameters: dict
    signers: tuple[str, ...]
    #: For a task that builds on an earlier one: that task's key and this node's return of
    #: it (`node.prior`), read before the task id was consumed; else (None, None).
    prior: tuple = (None, None)


def verify_task(
    task: SignedTask,
    *,
    node: NodeIdentity,
    trust: TrustList,
    policy: Policy,
    library,
    replay=None,
    available_datasets: Sequence[str] | None = None,
    consume: bool = False,
    now: dt.datetime | None = None,
    before_consume=None,
) -> Accepted:
    """Runs the whole pipeline; raises Refusal at the first failing check.

    With consume=True (execution), the task id is recorded in the replay store once
    every check passed; with consume=False (a dry run) nothing is recorded.
    available_datasets=None skips the dataset check. `before_consume(spec, model)`, if
    given, runs after every check and before the task id is consumed; it may raise Refusal
    (a linkage task's key is obtained there, see node.linkage).
    """
    now = now or dt.datetime.now(dt.UTC)
    spec = _check_signatures(task, trust)
    signers = _check_issuers(task, trust)
    _check_approvals(spec.output_kind, signers, policy)
    _check_validity(spec, policy, now)
    if replay is not None and replay.seen(spec.task_id):
        raise Refusal("REPLAYED", f"task {spec.task_id} was already accepted by this node")
    _check_target(spec, node)
    model = _check_analysis(spec, library, policy, node.level)
    parameters = _check_parameters(spec, model)
    if available_datasets is not None:
        from analyses._linkage import missing_datasets

        missing = missing_datasets(model, node.level, available_datasets)
        if missing:
            raise Refusal(
                "MISSING_DATASET",
                f"{spec.analysis_id} needs {', '.join(missing)}, which this node has not ingested",
            )
    if model.linkage is not None and model.linkage.shares_key and not spec.key_originator:
        raise Refusal("KEY_UNAVAILABLE", f"{spec.analysis_id} links records across nodes, and "
                      "the task names no key originator to draw its key")
    if before_consume is not None:
        before_consume(spec, model)
    if consume and replay is not None:
        from node.replay import TaskReplayed

        try:
            replay.consume(spec.task_id, int(spec.expires_at.ToSeconds()))
        except TaskReplayed as exc:
            raise Refusal("REPLAYED", f"task {spec.task_id} was already accepted") from exc
    return Accepted(task, spec, model, parameters, tuple(s.id for s in signers))


def _check_signatures(task: SignedTask, trust: TrustList):
    try:
        task.check_view()
        spec = task.spec
    except TaskFileError as exc:
        raise Refusal("BAD_SIGNATURE", str(exc)) from exc
    if not task.signatures:
        raise Refusal("BAD_SIGNATURE", "the task carries no signature")
    from certs import BadSignature, verify_signature

    message = signing_message(task.spec_bytes)
    for sig in task.signatures:
        issuer = trust.by_key_id(sig.key_id)
        if issuer is None:
            continue  # judged by the issuer check that follows
        try:
            verify_signature(issuer.public_key, sig.signature, message)
        except BadSignature as exc:
            raise Refusal(
                "BAD_SIGNATURE",
                f"the signature of {issuer.id} does not match the signed bytes: "
                "the task was changed after signing",
            ) from exc
    return spec


def _check_issuers(task: SignedTask, trust: TrustList) -> list[TrustedIssuer]:
    signers = []
    for sig in task.signatures:
        issuer = trust.by_key_id(sig.key_id)
        if issuer is None:
            who = f" (claims to be {sig.signer_id})" if sig.signer_id else ""
            raise Refusal(
                "UNKNOWN_ISSUER", f"key {sig.key_id}{who} is not in this node's trust list"
            )
        if sig.signer_id and sig.signer_id != issuer.id:
            raise Refusal(
                "UNKNOWN_ISSUER", f"key {sig.key_id} belongs to {issuer.id}, not to {sig.signer_id}"
            )
        signers.append(issuer)
    return signers


def _check_approvals(kind: str, signers: list[TrustedIssuer], policy: Policy) -> None:
    required = policy.approvals.get(kind)
    if required is None:
        raise Refusal("NOT_ALLOWED", f"output kind {kind!r} is not one this node knows")
    if not _roles_covered(required, [set(s.roles) for s in signers]):
        have = ", ".join(f"{s.id} ({'/'.join(s.roles)})" for s in signers)
        raise Refusal(
            "INSUFFICIENT_APPROVALS",
            f"a {kind} task needs signatures by {' + '.join(required)} from different "
            f"issuers; it has {have}",
        )


def _roles_covered(required: Sequence[str], signer_roles: list[set[str]]) -> bool:
    """True when each required role can be given to a different signer (a matching)."""
    assigned: dict[int, int] = {}  # signer index -> required slot

    def place(slot: int, seen: set[int]) -> bool:
        for signer, roles in enumerate(signer_roles):
            if required[slot] in roles and signer not in seen:
                seen.add(signer)
                if signer not in assigned or place(assigned[signer], seen):
                    assigned[signer] = slot
                    return True
        return False

    return all(place(slot, set()) for slot in range(len(required)))


def _check_validity(spec, policy: Policy, now: dt.datetime) -> None:
    skew = dt.timedelta(seconds=policy.clock_skew_seconds)
    issued = spec.issued_at.ToDatetime(dt.UTC)
    expires = spec.expires_at.ToDatetime(dt.UTC)
    if now > expires + skew:
        raise Refusal("EXPIRED", f"the task expired at {expires.isoformat()}")
    if issued > now + skew:
        raise Refusal(
            "NOT_YET_VALID",
            f"the task is valid from {issued.isoformat()}; check the issuer's clock",
        )
    if expires - issued > dt.timedelta(hours=policy.max_lifetime_hours):
        raise Refusal(
            "NOT_ALLOWED",
            f"a validity window of {expires - issued} exceeds this "
            f"node's limit of {policy.max_lifetime_hours} h (validity.max_lifetime_hours)",
        )


def _check_target(spec, node: NodeIdentity) -> None:
    if spec.federation != node.federation:
        raise Refusal(
            "NOT_A_TARGET",
            f"the task is for federation {spec.federation!r}, "
            f"this node belongs to {node.federation!r}",
        )
    if not is_target(
        spec.targets,
        node_id=node.node_id,
        level=node.level,
        region=node.region,
        datasets=node.datasets,
    ):
        raise Refusal("NOT_A_TARGET", f"the task's targets do not include {node.node_id}")


def _check_analysis(spec, library, policy: Policy, level: str):
    from analyses import AnalysisError

    try:
        model = library.get(spec.analysis_id)
    except AnalysisError as exc:
        raise Refusal(
            "UNKNOWN_ANALYSIS", f"{spec.analysis_id} is not in this node's library"
        ) from exc
    if model.version != spec.analysis_version:
        raise Refusal(
            "UNKNOWN_ANALYSIS",
            f"this node has {spec.analysis_id} version "
            f"{model.version}, not {spec.analysis_version}",
        )
    if model.digest != spec.analysis_digest:
        raise Refusal(
            "DIGEST_MISMATCH",
            f"{spec.analysis_id}@{model.version} here has digest "
            f"{model.digest[:16]}…, the task names {spec.analysis_digest[:16]}…",
        )
    if model.output.kind != spec.output_kind:
        raise Refusal(
            "DIGEST_MISMATCH",
            f"{spec.analysis_id} returns {model.output.kind}, the task says {spec.output_kind}",
        )
    if not policy.allows(spec.analysis_id):
        raise Refusal(
            "NOT_ALLOWED",
            f"{spec.analysis_id} is not allowed by this node's policy ([analyses] allow/deny)",
        )
    if level not in model.sql:
        raise Refusal("NOT_ALLOWED", f"{spec.analysis_id} has no step for {level} nodes")
    return model


def _check_parameters(spec, model) -> dict:
    from analyses import AnalysisError

    try:
        return model.bind_parameters(decode_parameters(spec))
    except AnalysisError as exc:
        raise Refusal("BAD_PARAMETERS", str(exc)) from exc
