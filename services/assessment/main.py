"""The assessment service's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.assessment.api import router
from services.assessment.runtime import AssessmentRuntime, lifespan
from services.assessment.tables import AuditLog
from services.common.app import build_app
from services.common.openapi_info import Tag
from services.common.settings import AssessmentSettings

TAGS: list[Tag] = [
    Tag(
        name="methodologies",
        description=("考评方法：发布后不可修改的版本化方法 (published, immutable, versioned methodologies)."),
    ),
    Tag(
        name="assessments",
        description=(
            "考评结果：草稿、发布、被替代、撤回，及复核、结果、敏感性分析与通报 "
            "(runs as official acts: drafts, publication, withdrawal, verification, outcomes, sensitivity, bulletins)."
        ),
    ),
    Tag(
        name="sanctions",
        description=("奖惩规则与约谈 (reward and warning rules per zone kind, and summons)."),
    ),
    Tag(
        name="outcomes",
        description=("开发区奖惩：已发布考评决定的、现行有效的奖励与警示 (a zone's rewards and warnings in force)."),
    ),
    Tag(
        name="bulletins",
        description=("半年通报：主要指标排名 (the half-year bulletin of the main indicators)."),
    ),
    Tag(
        name="targets",
        description=(
            "市级目标：2018、2020 年目标的完成情况与趋势预测 "
            "(the city's 2018 and 2020 targets, evaluated and projected)."
        ),
    ),
]
"""The OpenAPI tags of the service's routes, in the order the docs show them."""


def create_app(settings: AssessmentSettings | None = None) -> FastAPI:
    """Build the assessment app; settings default to the environment."""
    return build_app(
        settings or AssessmentSettings(),
        title="devzones assessment",
        description="One published ruler: methodologies, reproducible rankings, bulletins, rewards and warnings.",
        tags=TAGS,
        audit_log=AuditLog,
        routers=[router],
        lifespan_hook=lifespan,
        runtime=AssessmentRuntime,
    )
