"""Properties of the reorganisation algebra over random sequences of acts (hypothesis)."""

from __future__ import annotations

import copy
import itertools
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from libs.domain.registry.contracts import Operation
from libs.domain.registry.history import InMemoryRegistry, replay
from libs.domain.registry.outcome import ActRefused
from tests.reorg_strategies import DIVISIONS, START, draw_act

OPS = TypeAdapter(list[Operation])


def probe_days(reg: InMemoryRegistry) -> list[date]:
    days = {START, date(2100, 1, 1)}
    for act in reg.acts:
        days.update({act.effective_on, act.effective_on - timedelta(days=1)})
    return sorted(days)


def table(reg: InMemoryRegistry) -> dict[str, list[tuple[object, date, date | None]]]:
    return {z: [(s.snapshot, s.valid_from, s.valid_to) for s in states] for z, states in reg.states.items()}


class TestSequencesOfActs:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_incremental_state_equals_a_replay_from_scratch(self, data: st.DataObject) -> None:
        reg = InMemoryRegistry(frozenset(DIVISIONS))
        counter = itertools.count()
        last = START
        for _ in range(data.draw(st.integers(1, 8), label="steps")):
            if reg.acts and data.draw(st.booleans(), label="annul?"):
                live = [a for a in reg.acts if not a.annulled]
                latest = live[-1] if live else None
                if latest and all(reg.last_act(z) == latest.id for z in latest.outcome.touched):
                    reg.annul(latest.id)
                    continue
            day, raw = draw_act(data, reg, last)
            try:
                reg.record(day, OPS.validate_python(raw), lambda: f"z{next(counter)}")
                last = day
            except ActRefused:
                continue
            fresh = replay(reg.divisions, reg.acts)
            for d in probe_days(reg):
                assert reg.counts(d) == fresh.counts(d)
                assert reg.snapshots(d) == fresh.snapshots(d)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_annulling_the_latest_act_restores_the_previous_state_exactly(self, data: st.DataObject) -> None:
        reg = InMemoryRegistry(frozenset(DIVISIONS))
        counter = itertools.count()
        last = START
        for _ in range(data.draw(st.integers(1, 6), label="steps")):
            before = copy.deepcopy(table(reg))
            day, raw = draw_act(data, reg, last)
            try:
                act = reg.record(day, OPS.validate_python(raw), lambda: f"z{next(counter)}")
            except ActRefused:
                continue
            if data.draw(st.booleans(), label="annul now?"):
                reg.annul(act.id)
                assert table(reg) == before
            else:
                last = day

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_no_plaque_is_ever_counted(self, data: st.DataObject) -> None:
        reg = InMemoryRegistry(frozenset(DIVISIONS))
        counter = itertools.count()
        last = START
        for _ in range(data.draw(st.integers(1, 6), label="steps")):
            day, raw = draw_act(data, reg, last)
            try:
                reg.record(day, OPS.validate_python(raw), lambda: f"z{next(counter)}")
                last = day
            except ActRefused:
                continue
        for d in probe_days(reg):
            active = [s for s in reg.snapshots(d) if s.active]
            assert reg.counts(d)["total"] == len(active) == len({s.id for s in active})
        # Adding a plaque to every active zone changes no count on any date.
        day = last + timedelta(days=1)
        targets = [s for s in reg.snapshots(day) if s.active]
        if targets:
            counts_before = {d: reg.counts(d) for d in [*probe_days(reg), day]}
            ops = [{"op": "add_plaque", "zone_id": s.id, "name": f"牌{i}号"} for i, s in enumerate(targets)]
            reg.record(day, OPS.validate_python(ops), lambda: "unused")
            assert {d: reg.counts(d) for d in counts_before} == counts_before
            assert sum(len(s.plaques) for s in reg.snapshots(day)) >= len(targets)
