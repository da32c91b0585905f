"""Canonical JSON (libs/domain/kernel/canonical.py): the published byte form, and its orjson fast path held to it."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.domain.kernel.canonical import (
    canonical_json,
    canonical_with_sha256,
    inputs_sha256,
    orjson_text,
    standard_text,
)


class TestCanonicalJsonIsTheStandardLibrarysForm:
    def test_canonical_json_sorts_keys_and_keeps_chinese_as_utf8(self) -> None:
        assert canonical_json({"b": [1.5, "中"], "a": 1}) == '{"a":1,"b":[1.5,"中"]}'.encode()

    def test_the_digest_is_sha256_of_the_canonical_json(self) -> None:
        expected = hashlib.sha256('{"a":1,"b":[1.5,"中"]}'.encode()).hexdigest()
        assert inputs_sha256({"b": [1.5, "中"], "a": 1}) == expected

    def test_nan_is_refused(self) -> None:
        with pytest.raises(ValueError):
            canonical_json({"x": math.nan})

    def test_floats_below_1e_4_are_written_as_the_standard_library_writes_them(self) -> None:
        # orjson would write 0.00001 and 1.5e-7; the published form is Python's (1e-05, 1.5e-07).
        doc = {"a": 1e-05, "b": [1.5e-07, -2.5e-06], "c": 30.000062648686136, "d": 1e16, "e": 0.0001}
        assert canonical_json(doc) == b'{"a":1e-05,"b":[1.5e-07,-2.5e-06],"c":30.000062648686136,"d":1e+16,"e":0.0001}'

    def test_keys_and_numbers_beyond_plain_json_types_are_written_as_the_standard_library_writes_them(self) -> None:
        assert canonical_json({2: "b", 1: "a"}) == b'{"1":"a","2":"b"}'
        assert canonical_json({"n": 2**70}) == b'{"n":1180591620717411303424}'
        assert canonical_json({"t": (1, 2), "s": 'x\u2028\x01"\\'}) == b'{"s":"x\xe2\x80\xa8\\u0001\\"\\\\","t":[1,2]}'

    def test_infinity_anywhere_is_refused(self) -> None:
        with pytest.raises(ValueError):
            canonical_json({"zones": [{"values": {"gdp": 1.0}}, {"values": {"gdp": -math.inf}}]})

    def test_a_large_document_is_byte_for_byte_the_standard_librarys(self) -> None:
        rng = np.random.default_rng(7)
        values = (rng.lognormal(0, 6, 4000) * rng.choice([-1, 1], 4000)).tolist()
        doc = {
            "zones": [
                {
                    "id": f"Z{i}",
                    "name": f"开发区{i}（测试）",
                    "values": {f"i{j}": values[(i * 10 + j) % 4000] for j in range(10)},
                }
                for i in range(400)
            ],
            "previous": {"ranks": {f"Z{i}": (i or None) for i in range(400)}},
            "flags": [True, False, None, 0, -0.0, 123456789012345678],
        }
        expected = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        assert canonical_json(doc) == expected.encode()

    def test_the_text_stored_is_the_text_hashed(self) -> None:
        text = '{"a":1,"b":[1.5,"中"]}'
        assert canonical_with_sha256({"b": [1.5, "中"], "a": 1}) == (text, hashlib.sha256(text.encode()).hexdigest())


# Documents like a run's inputs, and the corners where orjson and the standard library could part:
# tiny and huge floats, negative zero, NaN and infinity, integers beyond 64 bits, non-ASCII and
# control characters, integer keys, tuples and str subclasses.
class _Name(str):
    pass


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(min_value=-1e-3, max_value=1e-3)
    | st.text(max_size=12)
    | st.text(max_size=4).map(_Name)
)
_keys = st.text(max_size=8) | st.integers(min_value=-5, max_value=5)
_documents = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=6) | st.lists(inner, max_size=4).map(tuple) | st.dictionaries(_keys, inner, max_size=6)
    ),
    max_leaves=40,
)


def _either(obj: Any, *, fast: bool) -> bytes | str:
    try:
        return canonical_json(obj, fast=fast)
    except (ValueError, TypeError) as exc:
        return type(exc).__name__


class TestTheFastPathWritesTheSameBytesAsThePlainPath:
    @settings(max_examples=400, deadline=None)
    @given(_documents)
    def test_any_document_gives_identical_bytes_or_the_same_refusal(self, doc: Any) -> None:
        assert _either(doc, fast=True) == _either(doc, fast=False)

    @settings(max_examples=200, deadline=None)
    @given(_documents)
    def test_the_fast_path_declines_or_writes_the_definitions_bytes(self, doc: Any) -> None:
        text = orjson_text(doc)
        if text is not None:
            assert text == standard_text(doc)

    @pytest.mark.parametrize("fast", [True, False])
    def test_the_digest_and_the_stored_text_agree_on_either_path(self, fast: bool) -> None:
        doc = {"b": [1.5, "中", 1e-05], "a": 1}
        text, sha = canonical_with_sha256(doc, fast=fast)
        assert text == '{"a":1,"b":[1.5,"中",1e-05]}'
        assert sha == inputs_sha256(doc, fast=fast) == hashlib.sha256(text.encode()).hexdigest()
