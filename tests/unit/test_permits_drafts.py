"""The named records of rows not stored yet give exactly their table's columns."""

from __future__ import annotations

from dataclasses import fields

import pytest

from services.permits.cases.drafts import NewCase, NewMaterial, NewTask


@pytest.mark.parametrize("record", [NewCase, NewMaterial, NewTask])
def test_a_draft_has_every_column_its_table_is_given(record: type) -> None:
    table = record.table  # type: ignore[attr-defined]
    generated = {c.key for c in table.primary_key.columns if c.autoincrement is True}
    assert {f.name for f in fields(record)} == {c.key for c in table.columns} - generated
