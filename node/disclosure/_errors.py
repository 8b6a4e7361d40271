"""The error raised when an output must not leave the node at all."""

from __future__ import annotations

from node.errors import NodeError


class DisclosureError(NodeError):
    """An output the disclosure engine refuses as a whole, with a stable code.

    Codes: BAD_MODEL (the model's declaration clashes with the engine), MISSING_COLUMN,
    TYPE_MISMATCH, LOCAL_ONLY_COLUMN, FREE_TEXT (a text value longer than the policy
    allows), TOO_MANY_ROWS, BAD_COUNT, BAD_HELPER (dominance helper columns), DUPLICATE_CELL,
    BAD_HIERARCHY, BAD_TOKEN, DUPLICATE_TOKEN, UNPROTECTABLE (secondary suppression cannot
    hide a cell). `public` is one sentence naming columns and policy keys but no value
    from the data, safe to report to HQ; `detail` (in `str(error)` too) is for the local
    log only.
    """

    def __init__(self, code: str, public: str, detail: str = "") -> None:
        super().__init__(f"{code}: {public}" + (f" ({detail})" if detail else ""))
        self.code = code
        self.public = public
        self.detail = detail
