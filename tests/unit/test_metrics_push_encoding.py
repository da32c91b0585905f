"""The speculative COPY's one-pass reading of a decoded JSON batch (``_Attempt._encode_decoded``).

It must write exactly the lines (and digests) the general checks and encoder write for the same
rows, and give up on exactly the batches in which they find a fault: checked here against a
line written by hand, and against the general path on generated batches.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.domain.metrics.catalog import SEED_INDICATORS
from libs.domain.metrics.contracts import IndicatorRead
from services.metrics.indicators.service import Catalog
from services.metrics.observations.checks import Faults, check_rows
from services.metrics.observations.decoding import DecodedRow, DecodedRows, _plain_values, parse_batch
from services.metrics.observations.fast_paths.copy import _Attempt
from services.metrics.observations.ledger_writer import first_versions

TODAY = date(2026, 6, 1)
BATCH = "0123456789abcdef0123456789abcdef"
CATALOG = Catalog(
    {
        i.code: IndicatorRead(**i.model_dump(), version=2 if i.code == "gdp" else 1, created_at=datetime.now(UTC))
        for i in SEED_INDICATORS
    },
    {},
)


def decoded(*rows: dict[str, Any]) -> DecodedRows:
    body = msgspec.json.encode({"observations": list(rows)})
    parsed = parse_batch(body)
    assert isinstance(parsed.rows, DecodedRows), "not in the common shape"
    return parsed.rows


def one_pass(rows: DecodedRows, last_seq: int = 0) -> tuple[bytes | None, bytes]:
    attempt = _Attempt(None, None, CATALOG, TODAY, rows)  # type: ignore[arg-type]
    attempt.batch_id = BATCH
    data = attempt._encode_decoded(0, len(rows), last_seq)
    return data, b"".join(attempt.digests) if data is not None else b""


def general(rows: DecodedRows, last_seq: int = 0) -> tuple[bytes | None, bytes]:
    read, conflicts = rows.read()
    faults = Faults(conflicts)
    checked = check_rows(read, CATALOG, faults, TODAY)
    if faults.items:
        return None, b""
    digests: list[bytes] = []
    return first_versions(checked, BATCH, last_seq, digests), b"".join(digests)


def test_a_row_is_written_as_the_ledger_line_written_by_hand() -> None:
    rows = decoded(
        {
            "zone_id": "z1",
            "indicator": "gdp",
            "period": "2017",
            "value": "1234.5",
            "unit": "万元",
            "note": "a\tb",
        },
        {"division": "130700", "indicator": "gdp", "period": "2017H1", "value": 3, "unit": "亿元"},
    )
    data, digests = one_pass(rows, last_seq=40)
    first = f"41\t\\N\tzone\tz1\tgdp\t2\t2017\t\\N\t1234.500000\t万元\t1234.5\t万元\ta\\tb\t\\N\t{BATCH}\n"
    # 3 亿元 = 30,000 万元; the first half of 2017 ends on 30 June.
    second = f"42\t\\N\tdivision\t130700\tgdp\t2\t2017H1\t\\N\t30000.000000\t万元\t3\t亿元\t\\N\t\\N\t{BATCH}\n"
    assert data == f"2017-12-31\t{first}2017-06-30\t{second}".encode()
    assert digests == hashlib.sha256(first.encode()).digest()[:16] + hashlib.sha256(second.encode()).digest()[:16]


def test_values_written_from_their_text_and_through_decimals_agree_with_the_hand() -> None:
    cases = {
        "7": ("7.000000", "7"),
        "0": ("0.000000", "0"),
        "0.5": ("0.500000", "0.5"),
        "12.123456": ("12.123456", "12.123456"),
        "12.1234565": ("12.123456", "12.1234565"),  # seven decimals: rounded half to even
        "007.50": ("7.500000", "7.50"),  # leading zeros: the plain text of the value given
        "-0": ("0.000000", "-0"),  # no negative zero is stored (PostgreSQL has none)
        "99999999999999999.999999": ("99999999999999999.999999", "99999999999999999.999999"),
    }
    for text, (value, original) in cases.items():
        rows = decoded({"zone_id": "z1", "indicator": "gdp", "period": "2017", "value": text, "unit": "万元"})
        data, _ = one_pass(rows)
        assert data is not None, text
        fields = data.decode().split("\t")
        assert (fields[9], fields[11]) == (value, original), text


def test_any_fault_gives_up_the_attempt() -> None:
    good = {"zone_id": "z1", "indicator": "gdp", "period": "2017", "value": "1", "unit": "万元"}
    no_zone = {k: v for k, v in good.items() if k != "zone_id"}
    faulty = [
        {**good, "zone_id": "z1", "division": "130705"},  # both
        no_zone,  # neither
        {**no_zone, "division": "13070"},  # not a division code
        {**good, "indicator": "rd_intensity", "unit": "%"},  # derived
        {**good, "period": "2999"},  # future
        {**good, "unit": "亩"},  # incompatible unit
        {**good, "value": "-1"},  # below the minimum
        {**good, "value": "100000000000000000"},  # 10^17: too large
        {**good, "note": "a\u0000b"},  # NUL
        good,  # a duplicate of the first row
    ]
    for row in faulty:
        rows = decoded(good, row)
        assert one_pass(rows)[0] is None, row
        assert general(rows)[0] is None, row


_number = st.from_regex(r"\A-?[0-9]{1,19}(\.[0-9]{1,8})?\Z")
_plain = st.one_of(
    # below 10^12 (so below 10^17 in any unit of the same dimension), leading zeros and up to eight decimals
    st.from_regex(r"\A[0-9]{1,12}(\.[0-9]{1,8})?\Z"),
    st.integers(min_value=0, max_value=10**12 - 1),
)
_MEASURES = [("gdp", "万元"), ("gdp", "亿元"), ("gdp", "元"), ("land_area_mu", "亩"), ("land_area_mu", "平方公里")]
_MEASURES += [("employment", "人"), ("employment", "万人"), ("exports", "万美元")]
_SUBJECTS = [{"zone_id": "z1"}, {"zone_id": "z\\2"}, {"zone_id": "z\t3"}, {"zone_id": "中"}, {"division": "130700"}]
_PERIODS = ["2017", "2017H1", "2017Q3", "2018"]


def _row(
    subject: dict[str, str], measure: tuple[str, str], period: str, value: Any, note: str | None
) -> dict[str, Any]:
    return {
        **subject,
        "indicator": measure[0],
        "period": period,
        "value": value,
        "unit": measure[1],
        "note": note,
    }


def _key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (str((row.get("zone_id"), row.get("division"))), row["indicator"], row["period"])


_clean = st.builds(
    _row,
    st.sampled_from(_SUBJECTS),
    st.sampled_from(_MEASURES),
    st.sampled_from(_PERIODS),
    _plain,
    st.one_of(st.none(), st.text(max_size=6).filter(lambda t: "\x00" not in t)),
)
_any = st.builds(
    _row,
    st.sampled_from([*_SUBJECTS, {"division": "13070"}]),
    st.sampled_from([*_MEASURES, ("gdp", "亩"), ("gdp", "卢布"), ("rd_intensity", "%"), ("nope", "万元")]),
    st.sampled_from([*_PERIODS, "2999"]),
    st.one_of(_plain, _number, st.integers(min_value=-(10**20), max_value=10**20)),
    st.one_of(st.none(), st.text(max_size=6)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_clean, min_size=1, max_size=8, unique_by=_key), st.integers(min_value=0, max_value=10**6))
def test_a_batch_without_fault_is_written_as_the_general_path_writes_it(rows: list[dict[str, Any]], seq: int) -> None:
    batch = decoded(*rows)
    expected = general(batch, seq)
    assert expected[0] is not None
    assert one_pass(batch, seq) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(_any, min_size=1, max_size=6), st.integers(min_value=0, max_value=10**6))
def test_the_one_pass_gives_up_exactly_where_the_general_path_finds_a_fault(
    rows: list[dict[str, Any]], seq: int
) -> None:
    batch = decoded(*rows)
    assert one_pass(batch, seq) == general(batch, seq)


def test_only_integers_and_plain_decimal_strings_are_in_the_common_shape() -> None:
    def plain(*values: Any) -> bool:
        rows = [DecodedRow("gdp", "2017", v, "万元", zone_id="z") for v in values]
        return _plain_values(rows)

    assert plain() and plain(1, -2) and plain("1", "-0.50", 3, "007")
    for bad in ("1,5", "", "-", "1.", ".5", "1e5", " 1", "5\n", "+1", "١", "1.2.3", "--1"):
        assert not plain("1", bad, 2), bad
