"""The ledger's chain: canonical lines, per-revision digests, batch links, and where tampering shows."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from libs.domain.metrics.ledger import (
    GENESIS_HASH,
    NULL,
    LedgerVerifier,
    batch_hash,
    canonical_line,
    copy_text,
    header_text,
    line_digest,
    line_template,
    revision_line,
)


def record(seq: int, value: str, *, batch: str = "b1", prev_seq: int | None = None) -> dict[str, Any]:
    return {
        "seq": seq,
        "prev_seq": prev_seq,
        "subject_type": "zone",
        "subject_id": "z1",
        "indicator_code": "gdp",
        "indicator_version": 1,
        "period": "2017",
        "old_value": None,
        "new_value": Decimal(value),
        "unit": "万元",
        "original_value": value,
        "original_unit": "万元",
        "note": "县统计局",
        "lock_id": None,
        "batch": batch,
    }


def header(batch: str, first_seq: int, revisions: int) -> dict[str, Any]:
    return {
        "id": batch,
        "first_seq": first_seq,
        "revisions": revisions,
        "recorded_at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "recorded_by": "county-130705",
        "recorded_by_division": "130705",
        "restatement_reason": None,
    }


class TestCanonicalForm:
    def test_a_revision_is_one_copy_text_line_in_field_order(self) -> None:
        assert (
            revision_line(record(1, "12.5"))
            == "1\t\\N\tzone\tz1\tgdp\t1\t2017\t\\N\t12.500000\t万元\t12.5\t万元\t县统计局\t\\N\tb1\n"
        )

    def test_tabs_newlines_and_backslashes_are_escaped_as_copy_does(self) -> None:
        assert copy_text('a\tb\nc\\d\re "q"') == 'a\\tb\\nc\\\\d\\re "q"'
        assert copy_text(None) == "\\N"
        line = revision_line(record(1, "1") | {"note": "x\ty"})
        assert line.count("\t") == 14 and "\tx\\ty\t" in line

    def test_the_digest_is_the_first_16_bytes_of_sha256_of_the_line(self) -> None:
        line = revision_line(record(1, "12.5"))
        assert line_digest(line) == hashlib.sha256(line.encode()).digest()[:16]

    def test_the_header_is_sorted_compact_json_with_a_utc_timestamp(self) -> None:
        assert header_text(header("b1", 1, 2)) == (
            '{"first_seq":1,"id":"b1","recorded_at":"2026-01-02T03:04:05.000006Z","recorded_by":"county-130705",'
            '"recorded_by_division":"130705","restatement_reason":null,"revisions":2}'
        )

    def test_the_batch_hash_chains_the_previous_hash_the_header_and_the_digests(self) -> None:
        digests = b"\x01" * 16 + b"\x02" * 16
        expected = hashlib.sha256(
            (GENESIS_HASH + header_text(header("b1", 1, 2)) + "\n").encode() + digests
        ).hexdigest()
        assert batch_hash(GENESIS_HASH, header("b1", 1, 2), digests) == expected

    def test_the_write_path_writes_the_same_line_from_canonical_texts(self) -> None:
        rec = record(9, "3", prev_seq=4) | {"note": None, "old_value": Decimal("1.5"), "lock_id": 4}
        line = canonical_line(
            9, 4, "zone", "z1", "gdp", 1, "2017", "1.500000", "3.000000", "万元", "3", "万元", copy_text(None), 4, "b1"
        )
        assert line == revision_line(rec)

    def test_a_template_puts_the_fixed_fields_between_the_open_ones(self) -> None:
        rec = record(9, "3") | {"note": "a\tb"}
        pieces = line_template(
            prev_seq=NULL,
            indicator_code="gdp",
            indicator_version="1",
            period="2017",
            old_value=NULL,
            unit="万元",
            original_unit="万元",
            lock_id=NULL,
            batch="b1",
        )
        open_fields = ["9", "zone", "z1", "3.000000", "3", copy_text("a\tb")]
        assert len(pieces) == len(open_fields) + 1
        line = pieces[0] + "".join(text + piece for text, piece in zip(open_fields, pieces[1:], strict=True))
        assert line == revision_line(rec)

    def test_a_template_refuses_an_unknown_field(self) -> None:
        with pytest.raises(ValueError, match="not fields"):
            line_template(value="1")


def chain(sizes: list[int]) -> list[tuple[dict[str, Any], str, str, bytes, list[dict[str, Any]]]]:
    """Batches of the given sizes, sealed: (header, prev_hash, hash, digests, revisions)."""
    out = []
    prev, seq = GENESIS_HASH, 1
    for n, size in enumerate(sizes):
        batch = f"b{n + 1}"
        revisions = [record(seq + i, str(seq + i), batch=batch) for i in range(size)]
        digests = b"".join(line_digest(revision_line(r)) for r in revisions)
        head = header(batch, seq, size)
        digest = batch_hash(prev, head, digests)
        out.append((head, prev, digest, digests, revisions))
        prev, seq = digest, seq + size
    return out


def verify(batches: list[tuple[dict[str, Any], str, str, bytes, list[dict[str, Any]]]]) -> LedgerVerifier:
    v = LedgerVerifier()
    for head, prev, digest, digests, revisions in batches:
        v.feed(head, prev_hash=prev, stored_hash=digest, digests=digests, revisions=revisions)
    return v


class TestVerification:
    def test_an_intact_chain(self) -> None:
        v = verify(chain([2, 3, 1]))
        assert v.intact and v.count == 6

    def test_an_altered_value_is_named_by_its_revision(self) -> None:
        batches = chain([2, 3, 1])
        batches[1][4][1]["new_value"] = Decimal("999")  # seq 4, the second revision of batch 2
        v = verify(batches)
        assert v.broken is not None and v.broken.seq == 4 and "altered" in v.broken.reason
        assert v.broken.batch == "b2"

    def test_a_removed_revision_breaks_at_the_next_one(self) -> None:
        batches = chain([3])
        del batches[0][4][1]  # seq 2
        v = verify(batches)
        assert v.broken is not None and v.broken.seq == 3 and "removed" in v.broken.reason

    def test_a_removed_batch_breaks_the_next_batchs_link(self) -> None:
        batches = chain([1, 1, 1])
        del batches[1]
        v = verify(batches)
        assert v.broken is not None and v.broken.seq == 3 and "link" in v.broken.reason

    def test_an_altered_batch_record_breaks_its_hash(self) -> None:
        batches = chain([2, 2])
        batches[1][0]["recorded_by"] = "someone-else"
        v = verify(batches)
        assert v.broken is not None and v.broken.seq == 3 and v.broken.batch == "b2"

    def test_digests_rewritten_to_match_an_alteration_break_the_batch_hash(self) -> None:
        head, prev, digest, digests, revisions = chain([2])[0]
        revisions[0]["note"] = "changed"
        forged = line_digest(revision_line(revisions[0])) + digests[16:]
        v = verify([(head, prev, digest, forged, revisions)])
        assert v.broken is not None and v.broken.seq == 1 and "batch hash" in v.broken.reason


ISSUER = "https://idp.example.gov.cn/realms/city"


class TestWhoRecordedABatch:
    """The token's issuer and client are hashed only when set (issue #17), so the batches sealed
    before they were recorded verify unchanged."""

    DIGESTS = bytes(range(32))

    def test_a_batch_without_issuer_and_client_hashes_exactly_as_before(self) -> None:
        # Worked by hand from the documented form: sha256(64 zeros + sorted compact JSON of the
        # seven header fields + "\n" + digests); the value was computed once with hashlib over this text.
        old_header = (
            '{"first_seq":1,"id":"b1","recorded_at":"2026-01-02T03:04:05.000006Z","recorded_by":"county-130705",'
            '"recorded_by_division":"130705","restatement_reason":null,"revisions":2}'
        )
        expected = "150b732c97b01cb34a99940fcdc83ee8ec335207951ec16012fc89a2a97ed74a"
        assert hashlib.sha256(("0" * 64 + old_header + "\n").encode() + self.DIGESTS).hexdigest() == expected
        absent = header("b1", 1, 2)
        given_as_null = absent | {"recorded_by_issuer": None, "recorded_by_client": None}
        assert batch_hash(GENESIS_HASH, absent, self.DIGESTS) == expected
        assert batch_hash(GENESIS_HASH, given_as_null, self.DIGESTS) == expected

    def test_a_set_issuer_and_client_are_hashed_in_sorted_order(self) -> None:
        head = header("b1", 1, 2) | {"recorded_by_issuer": ISSUER, "recorded_by_client": "county-130705-stats"}
        assert header_text(head) == (
            '{"first_seq":1,"id":"b1","recorded_at":"2026-01-02T03:04:05.000006Z","recorded_by":"county-130705",'
            '"recorded_by_client":"county-130705-stats","recorded_by_division":"130705",'
            f'"recorded_by_issuer":"{ISSUER}","restatement_reason":null,"revisions":2}}'
        )
        expected = "09da7660196ba2660ec7ad82b2417c842e9cfe0e3b9f5578d3e71e2faf689560"  # by hand, as above
        assert batch_hash(GENESIS_HASH, head, self.DIGESTS) == expected

    @staticmethod
    def _pushed_by_a_client() -> list[tuple[dict[str, Any], str, str, bytes, list[dict[str, Any]]]]:
        batches = []
        prev = GENESIS_HASH
        for head, _, _, digests, revisions in chain([2, 1]):
            head = head | {"recorded_by_issuer": ISSUER, "recorded_by_client": "county-130705-stats"}
            digest = batch_hash(prev, head, digests)
            batches.append((head, prev, digest, digests, revisions))
            prev = digest
        return batches

    def test_a_batch_with_a_client_id_verifies(self) -> None:
        assert verify(self._pushed_by_a_client()).intact

    @pytest.mark.parametrize("forged", ["someone-else", None])
    def test_an_altered_or_erased_client_id_breaks_the_batch_hash(self, forged: str | None) -> None:
        batches = self._pushed_by_a_client()
        batches[1][0]["recorded_by_client"] = forged
        v = verify(batches)
        assert v.broken is not None and v.broken.batch == "b2" and "batch hash" in v.broken.reason

    def test_an_old_batch_given_an_issuer_afterwards_breaks_its_hash(self) -> None:
        batches = chain([1, 1])
        batches[0][0]["recorded_by_issuer"] = ISSUER
        v = verify(batches)
        assert v.broken is not None and v.broken.batch == "b1"
