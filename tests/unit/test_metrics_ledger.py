"""The hash chain: canonical JSON, sha256 links, and where a tampered chain breaks."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from libs.domain.metrics_ledger import GENESIS_HASH, ChainVerifier, canonical_revision, revision_hash


def record(seq: int, value: str) -> dict[str, Any]:
    return {
        "batch": "b1",
        "indicator": "gdp",
        "indicator_version": 1,
        "lock": None,
        "new_value": Decimal(value),
        "note": "县统计局",
        "old_value": None,
        "original_unit": "万元",
        "original_value": value,
        "period": "2017",
        "recorded_at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "recorded_by": "county-130705",
        "recorded_by_division": "130705",
        "restatement_reason": None,
        "seq": seq,
        "subject_id": "z1",
        "subject_type": "zone",
        "unit": "万元",
    }


class TestCanonicalForm:
    def test_fields_sorted_decimals_fixed_timestamps_utc(self) -> None:
        assert canonical_revision(record(1, "12.5")) == (
            '{"batch":"b1","indicator":"gdp","indicator_version":1,"lock":null,"new_value":"12.500000",'
            '"note":"县统计局","old_value":null,"original_unit":"万元","original_value":"12.5","period":"2017",'
            '"recorded_at":"2026-01-02T03:04:05.000006Z","recorded_by":"county-130705",'
            '"recorded_by_division":"130705","restatement_reason":null,"seq":1,"subject_id":"z1",'
            '"subject_type":"zone","unit":"万元"}'
        )

    def test_the_hash_is_sha256_of_the_previous_hash_and_the_canonical_json(self) -> None:
        expected = hashlib.sha256(("0" * 64 + canonical_revision(record(1, "12.5"))).encode()).hexdigest()
        assert revision_hash(GENESIS_HASH, record(1, "12.5")) == expected

    def test_a_naive_timestamp_is_read_as_utc(self) -> None:
        naive = record(1, "1") | {"recorded_at": datetime(2026, 1, 2, 3, 4, 5, 6)}
        assert canonical_revision(naive) == canonical_revision(record(1, "1"))


class TestVerification:
    def _chain(self, n: int) -> list[tuple[dict[str, Any], str, str]]:
        out = []
        prev = GENESIS_HASH
        for i in range(1, n + 1):
            rec = record(i, str(i))
            h = revision_hash(prev, rec)
            out.append((rec, prev, h))
            prev = h
        return out

    def test_an_intact_chain(self) -> None:
        v = ChainVerifier()
        for rec, prev, h in self._chain(4):
            v.feed(rec, prev_hash=prev, stored_hash=h)
        assert v.intact and v.count == 4

    def test_an_altered_value_breaks_at_its_revision(self) -> None:
        chain = self._chain(4)
        chain[2][0]["new_value"] = Decimal("999")
        v = ChainVerifier()
        for rec, prev, h in chain:
            v.feed(rec, prev_hash=prev, stored_hash=h)
        assert v.broken is not None and v.broken.seq == 3 and "altered" in v.broken.reason

    def test_a_removed_revision_breaks_the_next_link(self) -> None:
        chain = self._chain(4)
        del chain[1]
        v = ChainVerifier()
        for rec, prev, h in chain:
            v.feed(rec, prev_hash=prev, stored_hash=h)
        assert v.broken is not None and v.broken.seq == 3


class TestTheCanonicalTextIsJson:
    def test_it_equals_json_dumps_of_the_normalised_sorted_record(self) -> None:
        import json

        rec = record(7, "-0.5") | {
            "note": 'quote " backslash \\ newline \n tab \t 汉字',
            "lock": 3,
            "old_value": Decimal("2"),
        }
        normalised = {
            k: (format(v.quantize(Decimal("0.000001")), "f") if isinstance(v, Decimal) else v) for k, v in rec.items()
        }
        normalised["recorded_at"] = "2026-01-02T03:04:05.000006Z"
        expected = json.dumps(normalised, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert canonical_revision(rec) == expected
        assert json.loads(canonical_revision(rec))["note"] == rec["note"]


class TestTheBatchEncoder:
    def test_it_writes_the_same_text_as_the_record_form(self) -> None:
        from libs.domain.metrics_ledger import BatchEncoder

        rec = record(9, "3") | {"note": None, "old_value": Decimal("1.5"), "lock": 4, "restatement_reason": '审计 "x"'}
        encoder = BatchEncoder(
            batch=rec["batch"],
            recorded_at=rec["recorded_at"],
            recorded_by=rec["recorded_by"],
            recorded_by_division=rec["recorded_by_division"],
            restatement_reason=rec["restatement_reason"],
        )
        shared = ("batch", "recorded_at", "recorded_by", "recorded_by_division", "restatement_reason")
        per_row = {k: v for k, v in rec.items() if k not in shared}
        assert encoder.encode(**per_row) == canonical_revision(rec)
        per_row["old_value"] = None
        assert encoder.encode(**per_row) == canonical_revision(rec | {"old_value": None})
