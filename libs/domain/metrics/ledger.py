"""The hash chain of the revision ledger (电子台账), one link per stored batch.

Every revision is written as a *canonical line*: the fields of :data:`REVISION_FIELDS` in that
order, tab-separated, ``\\N`` for a null, backslash, tab, newline and carriage return escaped
as PostgreSQL's ``COPY`` text format escapes them, and a final newline (the write path sends
these very lines to ``COPY``). Decimals are plain notation with six decimals.

A revision's *digest* is the first 16 bytes of ``sha256(line)``. A batch stores the digests of
its revisions (in ``seq`` order, concatenated) and its link of the chain::

    hash = sha256(prev_hash + canonical JSON of the batch header + "\\n" + digests).hexdigest()

where ``prev_hash`` is the previous batch's hash (64 zeros for the first) and the header is
:data:`HEADER_FIELDS`, and those of :data:`OPTIONAL_HEADER_FIELDS` that are not null, as sorted,
compact JSON (a batch recorded before the optional fields existed hashes as it always did).
:class:`LedgerVerifier` recomputes everything in order: a revision altered in place no longer
matches its digest (and is named), a removed or reordered revision breaks the sequence, an
altered batch or digest list breaks the batch's hash, a removed batch breaks the next batch's link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from libs.domain.metrics.units import SCALE

GENESIS_HASH = "0" * 64
DIGEST_BYTES = 16
REVISION_FIELDS: tuple[str, ...] = (
    "seq",
    "prev_seq",
    "subject_type",
    "subject_id",
    "indicator_code",
    "indicator_version",
    "period",
    "old_value",
    "new_value",
    "unit",
    "original_value",
    "original_unit",
    "note",
    "lock_id",
    "batch",
)
"""The columns of a revision, in the order of its canonical line (and of the ``COPY``)."""
HEADER_FIELDS: tuple[str, ...] = (
    "first_seq",
    "id",
    "recorded_at",
    "recorded_by",
    "recorded_by_division",
    "restatement_reason",
    "revisions",
)
"""The fields of a batch its hash covers besides its revisions, in canonical (sorted) order."""
OPTIONAL_HEADER_FIELDS: tuple[str, ...] = ("recorded_by_client", "recorded_by_issuer")
"""Fields the hash covers only when they are not null: who recorded the batch, by the token's
client (``azp``/``client_id``) and issuer (``iss``). They came after the first batches were sealed,
so leaving a null one out keeps those batches' hashes, and a set one cannot be altered unseen."""

NULL = "\\N"
"""How ``COPY`` text format writes a null."""
_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str | None) -> str:
    """A text field as ``COPY`` text format writes it (``\\N`` for ``None``)."""
    if value is None:
        return NULL
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_SPECIAL)
    return value


def decimal_text(value: Decimal | None) -> str | None:
    """A decimal as the ledger writes it: plain notation, six decimals."""
    if value is None:
        return None
    return format(value.quantize(SCALE), "f")


@lru_cache(maxsize=256)
def timestamp_text(moment: datetime) -> str:
    """A timestamp as the ledger writes it: UTC, microseconds, ``Z`` (naive means UTC)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_line(
    seq: object,
    prev_seq: object,
    subject_type: str,
    subject_id: str,
    indicator_code: str,
    indicator_version: object,
    period: str,
    old_value: str,
    new_value: str,
    unit: str,
    original_value: str,
    original_unit: str,
    note: str,
    lock_id: object,
    batch: str,
    /,
) -> str:
    """The canonical line of a revision: its fields (:data:`REVISION_FIELDS`, in that order) given
    already as canonical text, tab-separated, with the final newline.

    Canonical text: :data:`NULL` for a null, integers in decimal, decimals as :func:`decimal_text`,
    every other text through :func:`copy_text`. This is the one place the layout of a line is
    written: :func:`revision_line` and :func:`line_template` are built on it.
    """
    return (
        f"{seq}\t{prev_seq}\t{subject_type}\t{subject_id}\t{indicator_code}\t{indicator_version}\t{period}\t"
        f"{old_value}\t{new_value}\t{unit}\t{original_value}\t{original_unit}\t{note}\t{lock_id}\t{batch}\n"
    )


def _field_text(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, Decimal):
        return format(value.quantize(SCALE), "f")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return copy_text(str(value))


def revision_line(revision: Mapping[str, Any]) -> str:
    """The canonical line of a revision given as a mapping of :data:`REVISION_FIELDS`."""
    return canonical_line(*(_field_text(revision.get(name)) for name in REVISION_FIELDS))


_OPEN = "\r"
"""Stands for a field left open in :func:`line_template`: a raw carriage return never occurs in a
canonical text (:func:`copy_text` escapes it), nor between fields."""


def line_template(**fixed: str) -> list[str]:
    """:func:`canonical_line` with only the ``fixed`` fields given (as canonical text): the texts
    before, between and after the fields left open, in order (one more than there are open fields).

    A writer of many lines sharing some fields (a batch writes 10,000) computes these once and
    puts each line together from them, without a call per line, in the layout written once.
    """
    unknown = set(fixed) - set(REVISION_FIELDS)
    if unknown:
        raise ValueError(f"not fields of a revision: {sorted(unknown)}")
    return canonical_line(*(fixed.get(name, _OPEN) for name in REVISION_FIELDS)).split(_OPEN)


def line_digest(line: str) -> bytes:
    """The digest of a canonical line (first :data:`DIGEST_BYTES` bytes of its sha256)."""
    return hashlib.sha256(line.encode()).digest()[:DIGEST_BYTES]


def header_text(header: Mapping[str, Any]) -> str:
    """The canonical JSON of a batch header (timestamps normalised, keys sorted, compact)."""
    values = {name: header.get(name) for name in HEADER_FIELDS}
    for name in OPTIONAL_HEADER_FIELDS:
        if header.get(name) is not None:
            values[name] = header[name]
    if isinstance(values["recorded_at"], datetime):
        values["recorded_at"] = timestamp_text(values["recorded_at"])
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def batch_hash(prev_hash: str, header: Mapping[str, Any], digests: bytes) -> str:
    """The hash a batch must carry after ``prev_hash``, given its header and revision digests."""
    return hashlib.sha256((prev_hash + header_text(header) + "\n").encode() + digests).hexdigest()


@dataclass
class Broken:
    """Where and why the chain first fails: a revision's ``seq`` (and the batch it belongs to)."""

    seq: int
    reason: str
    batch: str | None = None
    revision: Mapping[str, Any] | None = None


class LedgerVerifier:
    """Feed each batch with its revisions, batches in chain order; remembers the first failure."""

    def __init__(self) -> None:
        self.prev_hash = GENESIS_HASH
        self.next_seq = 1
        self.count = 0
        self.broken: Broken | None = None

    def _break(self, seq: int, reason: str, batch: str, revision: Mapping[str, Any] | None) -> None:
        if self.broken is None:
            self.broken = Broken(seq, reason, batch, revision)

    def feed(
        self,
        header: Mapping[str, Any],
        *,
        prev_hash: str,
        stored_hash: str,
        digests: bytes,
        revisions: Sequence[Mapping[str, Any]],
    ) -> None:
        """Check one batch (its stored link, hash and digests) and its revisions in ``seq`` order."""
        self.count += len(revisions)
        if self.broken is not None:
            return
        batch_id = str(header.get("id"))
        first_seq = int(header["first_seq"])
        first = revisions[0] if revisions else None
        seq_of_first = int(first["seq"]) if first is not None else first_seq
        if prev_hash != self.prev_hash or first_seq != self.next_seq:
            self._break(
                seq_of_first,
                "link to the previous batch does not match (a revision or batch removed or reordered)",
                batch_id,
                first,
            )
            return
        if batch_hash(prev_hash, header, digests) != stored_hash:
            self._break(
                seq_of_first, "stored batch hash does not match its header and digests (altered)", batch_id, first
            )
            return
        expected = int(header["revisions"])
        if len(digests) != expected * DIGEST_BYTES:
            self._break(seq_of_first, "the batch's digest list does not match its size (altered)", batch_id, first)
            return
        for i, revision in enumerate(revisions):
            seq = int(revision["seq"])
            if seq != first_seq + i:
                self._break(
                    seq,
                    "link to the previous revision does not match (a revision removed or reordered)",
                    batch_id,
                    revision,
                )
                return
            if (
                i >= expected
                or line_digest(revision_line(revision)) != digests[i * DIGEST_BYTES : (i + 1) * DIGEST_BYTES]
            ):
                self._break(seq, "stored digest does not match the revision's content (altered)", batch_id, revision)
                return
        if len(revisions) != expected:
            # Revisions missing at the end of the batch: the next batch's first revision reports it.
            self._break(
                first_seq + len(revisions),
                "revisions missing at the end of a batch (removed)",
                batch_id,
                None,
            )
            return
        self.prev_hash = stored_hash
        self.next_seq = first_seq + expected

    def orphan(self, revision: Mapping[str, Any]) -> None:
        """A revision belonging to no stored batch."""
        self.count += 1
        self._break(
            int(revision["seq"]),
            "revision belongs to no batch of the chain (inserted)",
            str(revision.get("batch")),
            revision,
        )

    @property
    def intact(self) -> bool:
        """True while nothing has failed."""
        return self.broken is None
