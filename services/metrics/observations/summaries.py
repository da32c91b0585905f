"""The answer of a push: its counts, its conflicts, and the problems it raises."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.metrics.contracts import ImportConflict, ImportCounts, ImportSummary
from services.metrics.observations.checks import Checked, Faults
from services.metrics.observations.repository import Current, Key


def counts(good: Sequence[Checked], current: dict[Key, Current], rejected: int, skipped: int) -> ImportCounts:
    """How many of the ``good`` rows create, update or leave unchanged a stored value."""
    created = updated = unchanged = 0
    for r in good:
        old = current.get(r.key)
        if old is None:
            created += 1
        elif old.value != r.value:
            updated += 1
        else:
            unchanged += 1
    return ImportCounts(created=created, updated=updated, unchanged=unchanged, rejected=rejected, skipped=skipped)


def summary(
    faults: Faults, counts: ImportCounts, *, dry_run: bool, batch: str | None = None, restatement: bool = False
) -> ImportSummary:
    """The import summary: conflicts in row order."""
    items = sorted(faults.items, key=lambda c: (c.index, c.field))
    return ImportSummary(
        status="conflict" if items else "ok",
        dry_run=dry_run,
        counts=counts,
        conflicts=items,
        batch=batch,
        restatement=restatement,
    )


def conflicted(faults: Faults, counts: ImportCounts, *, dry_run: bool) -> Unprocessable:
    """The 422 of a batch with faulty rows: nothing is stored. Each fault is listed once, in ``errors``
    (``loc`` = ``["observations", row index, field]``, ``type`` = the conflict's code; for a row read
    from a file ``line`` = its row as Excel shows it and ``column`` = its column's header; ``accepted``
    = what the field accepts, where that helps); ``summary`` holds the counts (its ``conflicts`` are those
    errors, not repeated: a 10,000-row batch of duplicates answered each one twice)."""
    answer = summary(faults, counts, dry_run=dry_run)
    return Unprocessable(
        Text(
            f"{answer.counts.rejected} 行有误，未保存任何数据；每个问题见 errors",
            f"{answer.counts.rejected} row(s) conflict; nothing was stored; each is listed in errors",
        ),
        code="rows_conflict",
        errors=[_error(c) for c in answer.conflicts],
        summary=answer.model_dump(mode="json", exclude={"conflicts"}),
    )


def _error(c: ImportConflict) -> dict[str, Any]:
    """A conflict as the problem's ``errors`` lists it; ``column`` and ``accepted`` only when known
    (a JSON push has no column, and a 10,000-row batch of duplicates should not carry 20,000 nulls)."""
    error: dict[str, Any] = {
        "loc": ["observations", c.index, c.field],
        "msg": c.message,
        "type": c.code,
        "code": c.code,
        "line": c.line,
    }
    if c.column is not None:
        error["column"] = c.column
    if c.accepted is not None:
        error["accepted"] = c.accepted
    return error


def first_rows(indices: Sequence[int], n: int = 10, *, zh: bool = False) -> str:
    """The first ``n`` row indices, for a message (``zh``: for its Chinese text)."""
    shown = ", ".join(str(i) for i in sorted(indices)[:n])
    more = " …" if len(indices) > n else ""
    return f"第 {shown}{more} 行" if zh else f"rows {shown}{more}"
