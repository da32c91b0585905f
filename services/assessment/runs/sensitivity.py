"""How robust a run's ranks are when its methodology's choices vary."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import RankIntervalRead, SensitivityRead
from libs.domain.assessment.scoring import Subject
from libs.domain.assessment.sensitivity import WEIGHT_SPREAD, analyse
from libs.domain.assessment.validation import parse_methodology
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.i18n import Text
from services.assessment.runs import repository
from services.assessment.runs.reads import run_and_method


async def sensitivity(*, session: AsyncSession, run_id: int, samples: int, seed: int | None) -> SensitivityRead:
    """Rank intervals of a run's ranked zones when weights, normalisations and aggregation vary."""
    run, _ = await run_and_method(session, run_id, with_inputs=True)
    if run.subjects != "zones":
        raise Unprocessable(
            Text("敏感性分析仅适用于对开发区排名的考评", "sensitivity applies to runs that rank zones"),
            code="not_a_zone_run",
            errors=[
                {
                    "loc": ["path", "assessment_id"],
                    "msg": Text("这是参照得分考评", "a reference-score run"),
                    "type": "subjects",
                    "code": "subjects",
                }
            ],
        )
    method = parse_methodology(run.inputs["methodology"])
    ranks = {r.zone: r.rank for r in await repository.results(session, run_id) if r.rank is not None}
    subjects = [Subject(z["id"], z["name"], z["values"]) for z in run.inputs["zones"] if z["id"] in ranks]
    used_seed = run.id if seed is None else seed
    result = analyse(method, subjects, [ranks[s.id] for s in subjects], samples=samples, seed=used_seed)
    return SensitivityRead(
        assessment=run.id,
        samples=result.samples,
        seed=used_seed,
        variations=[
            f"every weight × a factor drawn uniformly from [{1 - WEIGHT_SPREAD:g}, {1 + WEIGHT_SPREAD:g}], "
            "renormalised within its group",
            "normalisation of every leaf: the published one, or all min_max, all z_score, all rank (equally likely)",
            "aggregation: the published one, every group arithmetic, or every group geometric (equally likely)",
            "ranks: standard competition ranking on the score rounded to 6 decimals; intervals are the 5th and 95th "
            "percentiles of each zone's ranks over the samples",
        ],
        rank_intervals=[
            RankIntervalRead(
                zone_id=z.zone,
                name=z.name,
                rank=z.rank,
                median_rank=z.median_rank,
                p5_rank=z.p5_rank,
                p95_rank=z.p95_rank,
                best_rank=z.best_rank,
                worst_rank=z.worst_rank,
            )
            for z in result.zones
        ],
    )
