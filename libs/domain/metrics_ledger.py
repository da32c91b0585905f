"""The hash chain of the revision ledger (电子台账).

Each revision carries ``hash = sha256(prev_hash + canonical JSON of the revision)``, where
``prev_hash`` is the previous revision's hash (64 zeros for the first). Altering, removing or
reordering any stored revision breaks the chain at that revision, which
:class:`ChainVerifier` finds by recomputing every hash in order.

Canonical JSON: a JSON object of exactly :data:`REVISION_FIELDS`, keys in that (sorted)
order, no whitespace, UTF-8 unescaped; decimals as plain strings with six decimals,
timestamps as UTC ISO 8601 with microseconds and a ``Z``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from libs.domain.metrics_units import SCALE

GENESIS_HASH = "0" * 64
REVISION_FIELDS: tuple[str, ...] = (
    "batch",
    "indicator",
    "indicator_version",
    "lock",
    "new_value",
    "note",
    "old_value",
    "original_unit",
    "original_value",
    "period",
    "recorded_at",
    "recorded_by",
    "recorded_by_division",
    "restatement_reason",
    "seq",
    "subject_id",
    "subject_type",
    "unit",
)
"""The fields a revision's hash covers, in canonical (sorted) order."""

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode
_encode_str = json.encoder.encode_basestring  # the C escaper json.dumps(ensure_ascii=False) uses


def decimal_text(value: Decimal | None) -> str | None:
    """A decimal as the chain writes it: plain notation, six decimals."""
    if value is None:
        return None
    return format(value.quantize(SCALE), "f")


@lru_cache(maxsize=256)
def timestamp_text(moment: datetime) -> str:
    """A timestamp as the chain writes it: UTC, microseconds, ``Z`` (naive means UTC)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return _encode_str(value)
    if isinstance(value, Decimal):
        return f'"{decimal_text(value)}"'
    if isinstance(value, datetime):
        return f'"{timestamp_text(value)}"'
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _encode(value)


def canonical_revision(revision: Mapping[str, Any]) -> str:
    """The canonical JSON of a revision (decimals and timestamps normalised).

    Written out field by field (the same text ``json.dumps`` gives for the normalised values
    with sorted keys, ``ensure_ascii=False`` and no whitespace), because it runs once per
    revision on the write path.
    """
    get = revision.get
    return "{" + ",".join([f'"{name}":{_json(get(name))}' for name in REVISION_FIELDS]) + "}"


def chain_hash(prev_hash: str, canonical: str) -> str:
    """``sha256(prev_hash + canonical)`` as 64 hex digits."""
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def revision_hash(prev_hash: str, revision: Mapping[str, Any]) -> str:
    """The hash a revision must carry after ``prev_hash``."""
    return chain_hash(prev_hash, canonical_revision(revision))


@dataclass
class Broken:
    """Where and why the chain first fails."""

    seq: int
    reason: str


class ChainVerifier:
    """Feed revisions in ``seq`` order; remembers the first one that does not recompute."""

    def __init__(self) -> None:
        self.prev_hash = GENESIS_HASH
        self.count = 0
        self.broken: Broken | None = None

    def feed(self, revision: Mapping[str, Any], *, prev_hash: str, stored_hash: str) -> None:
        """Check one revision (with its stored ``prev_hash`` and ``hash``) against the chain so far."""
        self.count += 1
        if self.broken is not None:
            return
        seq = int(revision["seq"])
        if prev_hash != self.prev_hash:
            self.broken = Broken(seq, "link to the previous revision does not match (a revision removed or reordered)")
        elif revision_hash(prev_hash, revision) != stored_hash:
            self.broken = Broken(seq, "stored hash does not match the revision's content (altered)")
        self.prev_hash = stored_hash

    @property
    def intact(self) -> bool:
        """True while no revision has failed."""
        return self.broken is None


class BatchEncoder:
    """Canonical JSON of the revisions of one batch, the fields they share rendered once.

    ``encode(...)`` returns exactly :func:`canonical_revision` of the full record; it exists
    because the write path hashes up to 10,000 revisions per request.
    """

    def __init__(
        self,
        *,
        batch: str,
        recorded_at: datetime,
        recorded_by: str,
        recorded_by_division: str | None,
        restatement_reason: str | None,
    ) -> None:
        self._batch = _json(batch)
        self._tail = (
            f',"recorded_at":{_json(recorded_at)},"recorded_by":{_json(recorded_by)},'
            f'"recorded_by_division":{_json(recorded_by_division)},"restatement_reason":{_json(restatement_reason)}'
        )

    def encode(
        self,
        *,
        seq: int,
        subject_type: str,
        subject_id: str,
        indicator: str,
        indicator_version: int,
        period: str,
        old_value: Decimal | None,
        new_value: Decimal,
        unit: str,
        original_value: str,
        original_unit: str,
        note: str | None,
        lock: int | None,
    ) -> str:
        """The canonical JSON of one revision of the batch."""
        old = "null" if old_value is None else f'"{decimal_text(old_value)}"'
        lock_text = "null" if lock is None else str(int(lock))
        note_text = "null" if note is None else _encode_str(note)
        return (
            f'{{"batch":{self._batch},"indicator":{_encode_str(indicator)},'
            f'"indicator_version":{int(indicator_version)},"lock":{lock_text},'
            f'"new_value":"{decimal_text(new_value)}","note":{note_text},"old_value":{old},'
            f'"original_unit":{_encode_str(original_unit)},"original_value":{_encode_str(original_value)},'
            f'"period":{_encode_str(period)}{self._tail},"seq":{int(seq)},"subject_id":{_encode_str(subject_id)},'
            f'"subject_type":{_encode_str(subject_type)},"unit":{_encode_str(unit)}}}'
        )
