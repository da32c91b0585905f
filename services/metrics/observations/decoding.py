"""Reading a pushed batch: the JSON body into rows, with the conflicts found while reading.

Rows are ``msgspec`` structs: named records built in C, a batch making 10,000 of them (a
NamedTuple's constructor is a Python call, several times as dear per row).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import Annotated, Any

import msgspec

from libs.domain.kernel.errors import PayloadTooLarge
from libs.domain.kernel.i18n import Text
from libs.domain.metrics import messages
from libs.domain.metrics.contracts import MAX_BATCH_ROWS, ImportConflict, ObservationBatch


class RowIn(msgspec.Struct, gc=False):
    """A row to push, from a JSON batch or a file line; ``subject`` is ``None`` when unreadable."""

    position: int
    subject: tuple[str, str] | None
    indicator: str
    period: str
    value: Decimal | str | None
    unit: str
    note: str | None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class RowsRead:
    """Rows read by ``ObservationBatch`` or from a file, with the conflicts found while reading them
    (and, for a file, each field's column header as the file writes it)."""

    rows: list[RowIn]
    conflicts: list[ImportConflict]
    headers: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def read(self) -> tuple[Sequence[RowIn], list[ImportConflict]]:
        """The rows and the conflicts found while reading them."""
        return self.rows, self.conflicts

    def lines(self) -> dict[int, int | None]:
        """The file line of each row that came from one."""
        return {r.position: r.line for r in self.rows if r.line is not None}

    def columns(self) -> dict[str, str]:
        """The header of each field's column (``subject`` → ``开发区``…) for a file; empty for JSON."""
        return self.headers


class DecodedRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One row of a JSON batch in the common shape: every constraint of ``ObservationIn`` holds
    (and values are integers or plain decimal strings), so the model would accept it too."""

    indicator: Annotated[str, msgspec.Meta(max_length=64)]
    period: Annotated[str, msgspec.Meta(max_length=16)]
    value: str | int  # a string only in plain decimal notation (:func:`_plain_values`)
    unit: Annotated[str, msgspec.Meta(max_length=32)]
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    zone_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    division: Annotated[str, msgspec.Meta(min_length=1, max_length=12)] | None = None


@dataclass(frozen=True, slots=True)
class DecodedRows:
    """The rows of a JSON batch in the common shape, as ``msgspec`` decoded them (a fast path may
    read them as they are; the checks read them as :class:`RowIn`)."""

    decoded: list[DecodedRow]

    def __len__(self) -> int:
        return len(self.decoded)

    def read(self) -> tuple[Sequence[RowIn], list[ImportConflict]]:
        """The rows as :class:`RowIn`, and the rows naming both or neither of zone_id and division."""
        return decoded_rows(self.decoded)

    def lines(self) -> dict[int, int | None]:
        """No file lines: a JSON batch."""
        return {}

    def columns(self) -> dict[str, str]:
        """No file columns: a JSON batch."""
        return {}


BatchRows = RowsRead | DecodedRows
"""The rows of a batch to push, in either of the shapes they are read in."""


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """A JSON batch as the push needs it, the options, and the hash identifying the request for
    idempotency."""

    rows: BatchRows
    dry_run: bool
    restatement_reason: str | None
    request_hash: str


class _FastBatch(msgspec.Struct, forbid_unknown_fields=True):
    observations: list[DecodedRow]
    dry_run: bool = False
    restatement_reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] | None = None


_FAST_DECODER = msgspec.json.Decoder(_FastBatch)
_PLAIN_LIST = re.compile(r"(?:-?[0-9]++(?:\.[0-9]++)?+,)*+").fullmatch  # possessive: nothing to backtrack
_VALUE = attrgetter("value")


def _plain_values(rows: Sequence[DecodedRow]) -> bool:
    """Whether every value given as a string is in plain decimal notation (``-?digits[.digits]``).

    One regular expression over the strings joined by commas (a comma in a string shows as one
    comma too many), several times cheaper than one match per value."""
    texts: list[Any] = list(map(_VALUE, rows))
    try:
        joined = ",".join(texts)  # every value a string (the common case)
    except TypeError:
        texts = [v for v in texts if type(v) is str]
        joined = ",".join(texts)
    if not texts:
        return True
    joined += ","
    return joined.count(",") == len(texts) and _PLAIN_LIST(joined) is not None


def parse_batch(body: bytes) -> ParsedBatch:
    """Read a JSON batch; raise :class:`pydantic.ValidationError` as ``ObservationBatch`` would.

    The common shape (integers or plain decimal strings as values) is decoded by ``msgspec``
    straight into typed structs carrying every constraint of the model (lengths, no unknown
    keys), many times cheaper than building 10,000 pydantic models; the rows stay as decoded
    (:class:`DecodedRows`) for the push to read in one pass. Anything else (floats, nulls, other
    number notations, unknown keys, wrong types, malformed JSON) is handed to ``ObservationBatch``
    itself, so what is accepted, and every error, stays exactly the model's.

    The request's identity (for ``Idempotency-Key``) is the sha256 of the body's bytes: a replay
    is the same request sent again, byte for byte.
    """
    request_hash = hashlib.sha256(b"json:" + body).hexdigest()
    try:
        raw = _FAST_DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raw = None
    if raw is not None:
        if len(raw.observations) > MAX_BATCH_ROWS:
            raise too_many(len(raw.observations))
        if _plain_values(raw.observations):
            return ParsedBatch(DecodedRows(raw.observations), raw.dry_run, raw.restatement_reason, request_hash)
    model = ObservationBatch.model_validate_json(body)
    if len(model.observations) > MAX_BATCH_ROWS:
        raise too_many(len(model.observations))
    rows, conflicts = rows_from_batch(model.observations)
    return ParsedBatch(RowsRead(rows, conflicts), model.dry_run, model.restatement_reason, request_hash)


def too_many(n: int) -> PayloadTooLarge:
    """The 413 of a batch of ``n`` rows, past :data:`MAX_BATCH_ROWS`."""
    return PayloadTooLarge(
        Text(
            f"{n} 行超过每批 {MAX_BATCH_ROWS} 行的上限，请分批报送",
            f"{n} rows exceed the limit of {MAX_BATCH_ROWS} per batch; split it",
        ),
        code="too_many_rows",
        limit_rows=MAX_BATCH_ROWS,
    )


def _subject_conflict(index: int) -> ImportConflict:
    return ImportConflict(index=index, field="subject", code="bad_subject", message=messages.bad_subject("both"))


def decoded_rows(decoded: Sequence[DecodedRow]) -> tuple[list[RowIn], list[ImportConflict]]:
    """The rows of a decoded batch as :func:`rows_from_batch` reads the model's: a row naming
    both or neither of zone_id and division is a conflict."""
    rows: list[RowIn] = []
    conflicts: list[ImportConflict] = []
    append = rows.append
    zones: dict[str, tuple[str, str]] = {}  # the subject of each zone id met (one tuple per zone, not per row)
    for i, o in enumerate(decoded):
        zone, division = o.zone_id, o.division
        pair: tuple[str, str] | None
        if zone is not None and division is None:
            pair = zones.get(zone)
            if pair is None:
                pair = zones[zone] = ("zone", zone)
        elif division is not None and zone is None:
            pair = ("division", division)
        else:
            pair = None
            conflicts.append(_subject_conflict(i))
        append(RowIn(i, pair, o.indicator, o.period, Decimal(o.value), o.unit, o.note))
    return rows, conflicts


def rows_from_batch(observations: Sequence[Any]) -> tuple[list[RowIn], list[ImportConflict]]:
    """Rows of a validated JSON batch; a row naming both or neither of zone_id and division is a conflict."""
    rows: list[RowIn] = []
    conflicts: list[ImportConflict] = []
    for i, o in enumerate(observations):
        subject: tuple[str, str] | None
        if (o.zone_id is None) == (o.division is None):
            subject = None
            conflicts.append(_subject_conflict(i))
        else:
            subject = ("zone", o.zone_id) if o.zone_id is not None else ("division", o.division)
        rows.append(RowIn(i, subject, o.indicator, o.period, o.value, o.unit, o.note))
    return rows, conflicts
