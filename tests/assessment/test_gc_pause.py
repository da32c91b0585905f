"""The collector pause around a run (services/assessment/runs/gc_pause.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.assessment.runs.gc_pause import gc_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


class TestTheCollectorResumesWhenTheLastOverlappingRunEnds:
    def test_nested_pauses_resume_only_at_the_outermost_end(self, collector_on: None) -> None:
        with gc_paused():
            assert not gc.isenabled()
            with gc_paused():
                assert not gc.isenabled()
            assert not gc.isenabled()
        assert gc.isenabled()

    def test_an_error_inside_still_resumes_it(self, collector_on: None) -> None:
        with pytest.raises(RuntimeError), gc_paused():
            raise RuntimeError("boom")
        assert gc.isenabled()

    def test_a_collector_that_was_off_stays_off(self, collector_on: None) -> None:
        gc.disable()
        with gc_paused():
            pass
        assert not gc.isenabled()
        gc.enable()
