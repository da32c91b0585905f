"""The speculative COPY (``fast_paths/copy.py``) held to the plain path through the HTTP API.

The same requests are sent with ``METRICS_FAST_COPY`` on and off: new values, a batch whose
later rows are already stored, revisions, duplicates, refused rows, a row out of scope, a
locked period and its restatement, a quarter and a half of a locked year (first in the batch
or later) and a quarter's restatement, a file, an idempotent replay. The answers, the stored
values and their histories must be the same (batch ids and times aside: those are new on every
run), and the ledger intact. On SQLite the fast path declines every batch; on PostgreSQL it
must have stored some.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.metrics.observations.fast_paths import copy
from tests.conftest import auth
from tests.metrics.builders import CITY, GAOXIN, XUANHUA, XUANHUA_COUNTY, ZHUOLU, batch, obs

VARIES = {"batch", "recorded_at", "first_recorded_at", "created_at", "hash", "prev_hash", "instance", "request_id"}
"""Fields new on every run (ids, times and what hashes them)."""
KEYS = [
    (XUANHUA, "gdp", "2017"),
    (ZHUOLU, "gdp", "2017"),
    (XUANHUA, "exports", "2018"),
    (GAOXIN, "gdp", "2017"),
    (XUANHUA, "gdp", "2011Q2"),
]


def county(key: str) -> dict[str, str]:
    return {**XUANHUA_COUNTY, "Idempotency-Key": key}


def steady(value: Any) -> Any:
    """``value`` without the fields that differ from run to run."""
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items() if k not in VARIES}
    if isinstance(value, list):
        return [steady(v) for v in value]
    return value


def new_values() -> dict[str, Any]:
    return batch(
        obs({"zone_id": XUANHUA}, "gdp", "2017", "1234.5", "万元", note="第一\t行\\N"),
        obs({"zone_id": ZHUOLU}, "gdp", "2017", 3, "亿元"),
        obs({"zone_id": XUANHUA}, "exports", "2018", "-0", "万美元"),
        obs({"division": "130700"}, "gdp", "2017", "99999999999999999.999999", "万元"),
        obs({"zone_id": XUANHUA}, "land_area_mu", "2017", "1.5", "平方公里"),
    )


SCENARIO: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("json", CITY, new_values()),
    ("json", CITY, new_values()),  # every value unchanged
    (  # new first, then a stored value: the attempt meets the primary key
        "json",
        CITY,
        batch(obs({"zone_id": GAOXIN}, "gdp", "2017", 7, "万元"), obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")),
    ),
    (
        "json",
        CITY,
        batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 2, "万元"), obs({"zone_id": ZHUOLU}, "gdp", "2017", 5, "万元")),
    ),
    (
        "json",
        CITY,
        batch(obs({"zone_id": GAOXIN}, "gdp", "2019", 1, "万元"), obs({"zone_id": GAOXIN}, "gdp", "2019", 2, "万元")),
    ),
    (
        "json",
        CITY,
        batch(
            obs({"zone_id": GAOXIN}, "gdp", "2020", 1, "万元"),
            obs({"zone_id": GAOXIN}, "nope", "2020", 1, "万元"),
            obs({"zone_id": GAOXIN}, "gdp", "2999", 1, "万元"),
            obs({"zone_id": GAOXIN}, "land_area_mu", "2020", 1, "万元"),
            obs({"zone_id": "nowhere"}, "gdp", "2020", 1, "万元"),
        ),
    ),
    (
        "json",
        county("k1"),
        batch(obs({"zone_id": XUANHUA}, "gdp", "2016", 1, "万元"), obs({"zone_id": GAOXIN}, "gdp", "2016", 1, "万元")),
    ),
    ("json", CITY, batch(obs({"zone_id": XUANHUA}, "gdp", "2016", 1, "万元"), dry_run=True)),
    ("lock", CITY, {"period": "2015", "reason": "2015 assessment published"}),
    (
        "json",
        CITY,
        batch(obs({"zone_id": XUANHUA}, "gdp", "2014", 1, "万元"), obs({"zone_id": ZHUOLU}, "gdp", "2015", 1, "万元")),
    ),
    (
        "json",
        CITY,
        batch(obs({"zone_id": ZHUOLU}, "gdp", "2015", 1, "万元"), restatement_reason="audit found a double count"),
    ),
    ("lock", CITY, {"period": "2011", "reason": "2011 assessment published"}),
    (  # a lock on the year holds its quarters: the first row's and a later row's
        "json",
        CITY,
        batch(
            obs({"zone_id": XUANHUA}, "gdp", "2011Q4", 1, "万元"), obs({"zone_id": ZHUOLU}, "gdp", "2010", 1, "万元")
        ),
    ),
    (
        "json",
        CITY,
        batch(
            obs({"zone_id": ZHUOLU}, "gdp", "2010", 1, "万元"), obs({"zone_id": XUANHUA}, "gdp", "2011H1", 1, "万元")
        ),
    ),
    (
        "json",
        CITY,
        batch(obs({"zone_id": XUANHUA}, "gdp", "2011Q2", 3, "万元"), restatement_reason="audit of the second quarter"),
    ),
    ("json", county("k2"), batch(obs({"zone_id": XUANHUA}, "gdp", "2013", 8, "万元"))),
    ("json", county("k2"), batch(obs({"zone_id": XUANHUA}, "gdp", "2013", 8, "万元"))),  # replayed
    ("csv", CITY, {"content": f"zone,indicator,period,value,unit,note\n{XUANHUA},gdp,2012,4,万元,csv\n"}),
    ("csv", CITY, {"content": f"zone,indicator,period,value,unit,note\n{XUANHUA},gdp,2012,5,万元,again\n"}),
]


async def run(metrics: Any, *, fast_copy: bool) -> list[Any]:
    """Every answer of the scenario, then the stored values, histories and ledger verdict."""
    out: list[Any] = []
    async with metrics(fast_copy=fast_copy) as client:
        for kind, headers, body in SCENARIO:
            if kind == "lock":
                r = await client.post("/v1/locks", json=body, headers=headers)
            elif kind == "csv":
                files = {"file": ("values.csv", body["content"].encode(), "text/csv")}
                r = await client.post("/v1/observations/import", files=files, headers=headers)
            else:
                r = await client.post("/v1/observations", json=body, headers=headers)
            out.append((r.status_code, r.headers.get("idempotent-replayed"), steady(r.json())))
        stored = await client.get("/v1/observations", params={"limit": 500}, headers=CITY)
        out.append(steady(stored.json()))
        for zone, code, period in KEYS:
            params = {"zone_id": zone, "indicator": code, "period": period}
            history = await client.get("/v1/observations/history", params=params, headers=CITY)
            out.append(steady(history.json()))
        verdict = await client.get("/v1/ledger/verify", headers=auth("statistics_bureau"))
        out.append(verdict.json())
    return out


class TestTheSpeculativeCopyAnswersAsThePlainPath:
    @pytest.mark.parametrize("fast_copy", [True, False], ids=["fast-copy-on", "fast-copy-off"])
    async def test_the_same_requests_give_the_same_answers_and_stored_state(
        self, metrics: Any, backend: str, fast_copy: bool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        stored_by_copy: list[str] = []
        try_push = copy.try_push

        async def spy(*args: Any) -> Any:
            summary = await try_push(*args)
            if summary is not None:
                stored_by_copy.append(summary.batch or "")
            return summary

        monkeypatch.setattr(copy, "try_push", spy)
        plain = await run(metrics, fast_copy=False)
        assert stored_by_copy == []
        tried = await run(metrics, fast_copy=fast_copy)
        assert tried == plain
        assert tried[-1]["intact"] is True, tried[-1]
        assert tried[-1]["revisions"] > 0
        took_copy = fast_copy and backend == "postgresql"
        assert bool(stored_by_copy) == took_copy
