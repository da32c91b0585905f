"""The ranking bulletin (通报) of a run: the document, and rendering it as HTML, CSV or XLSX."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.validation import parse_methodology
from libs.domain.kernel.values import Period
from services.assessment.reports import bulletin_render
from services.assessment.reports.bulletin_chart import Bar
from services.assessment.runs import repository
from services.assessment.runs.reads import run_and_method
from services.assessment.tables import Assessment

KIND_ZH = bulletin_render.KIND_ZH

BulletinFormat = Literal["html", "csv", "xlsx"]


def _group_titles(document: Mapping[str, Any]) -> tuple[list[tuple[str, str]], float]:
    """The method's groups (key, title) below the root, and its scale."""
    method = parse_methodology(document)
    return [(g.key, g.title or g.code or g.key) for g in method.groups if g is not method.root], method.scale


def _on_scale(scale: float) -> str:
    """A score column's header suffix naming its scale: （100分制）."""
    return f"（{scale:g}分制）"


_VERDICT_ZH = {"commended": "表扬", "warned": "警告", "revocation_review": "提请撤销审查"}
_NOTES = (
    "排名按综合得分（保留6位小数）采用并列排名（1、2、2、4）；名次变化 = 上期排名 − 本期排名（↑为进位，↓为退位）。",
    "经合并组建的开发区沿用其前身在上期的最好名次；新设开发区标注“新设”。",
    "分项得分与综合得分采用同一分制（分项得分 = 该分项的加权值 × 分制）；得分四舍五入保留2位小数，排名依6位小数。",
)


async def bulletin(*, session: AsyncSession, run_id: int) -> bulletin_render.Bulletin:
    """The ranking bulletin (通报) of a run, ready to render."""
    run, method = await run_and_method(session, run_id)
    kind_zh = KIND_ZH.get(run.kind, run.kind)
    title = f"{run.label}（{kind_zh}）"
    period = Period.parse(run.period).label_zh
    subtitle = (
        f"考评方法：{method.title}（{run.methodology_code} 第{run.methodology_version}版）；期间：{period}；"
        f"开发区登记日期：{run.registry_as_of.isoformat()}；输入数据 SHA-256：{run.inputs_sha256}"
    )
    notes = [*_standing(run), *_NOTES, *(f"说明：{n}" for n in run.notes)]
    groups, scale = _group_titles(method.document)
    if run.subjects == "zones":
        section = await _ranking_section(session, run_id, groups, scale)
    else:
        section = await _reference_section(session, run_id, scale)
    return bulletin_render.Bulletin(
        title=title, subtitle=subtitle, sections=[section], notes=notes, draft=run.status == "draft"
    )


def _standing(run: Assessment) -> list[str]:
    """What a reader must know first about a run that is not (or no longer) in force."""
    if run.status == "draft":
        return ["本通报为草稿，尚未发布，其中的奖惩不生效。"]
    if run.status == "superseded":
        return [f"本通报已被考评 #{run.superseded_by} 替代，其中的奖惩已撤销。"]
    if run.status == "withdrawn":
        return [f"本通报已撤回（{run.withdrawn_reason}），其中的奖惩已撤销。"]
    return []


async def _verdicts(session: AsyncSession, run_id: int) -> dict[str, list[str]]:
    """Per zone, the outcomes the run decided, in words."""
    verdicts: dict[str, list[str]] = {}
    for o in await repository.outcomes(session, run_id):
        verdicts.setdefault(o.zone, []).append(
            f"{_VERDICT_ZH.get(o.outcome, o.outcome)}：{o.label}" + ("（并列）" if o.tie else "")
        )
    return verdicts


async def _ranking_section(
    session: AsyncSession, run_id: int, groups: list[tuple[str, str]], scale: float
) -> bulletin_render.Section:
    """The zones' ranking with their group scores (on the total's scale), rank changes and outcomes."""
    verdicts = await _verdicts(session, run_id)
    results = await repository.results(session, run_id)
    total = f"综合得分{_on_scale(scale)}"
    columns = [
        "排名",
        "开发区",
        total,
        "上期排名",
        "名次变化",
        *(f"{t}{_on_scale(scale)}" for _, t in groups),
        "缺失指标",
        "奖惩及说明",
    ]
    rows: list[list[bulletin_render.Cell]] = []
    chart: list[Bar] = []
    for r in results:
        detail = r.detail
        remark = "；".join(verdicts.get(r.zone, []))
        if detail.get("excluded"):
            remark = "；".join(filter(None, [detail["excluded"], remark]))
        rows.append(
            [
                r.rank,
                r.name,
                r.score,
                r.previous_rank,
                bulletin_render.change_text(r.rank_change, r.movement),
                *(_scaled(detail["groups"].get(key), scale) for key, _ in groups),
                "、".join(detail["missing"]) or None,
                remark or None,
            ]
        )
        if r.rank is not None:
            chart.append(Bar(r.name, r.score, r.rank_change))
    return bulletin_render.Section("综合排名", columns, rows, chart=chart, value_label=total)


def _scaled(value: float | None, scale: float) -> float | None:
    """A group's value (0–1 before the scale) on the total's scale."""
    return None if value is None else value * scale


async def _reference_section(session: AsyncSession, run_id: int, scale: float) -> bulletin_render.Section:
    """The reference scores of the divisions without a provincial zone."""
    references = await repository.reference_scores(session, run_id)
    score = f"参考得分{_on_scale(scale)}"
    columns = ["县（区）", "区划代码", score, "相当于开发区排名", "优先推荐申报", "缺失指标", "说明"]
    rows: list[list[bulletin_render.Cell]] = [
        [
            r.name,
            r.division,
            r.score,
            r.reference_rank,
            "是" if r.recommended else "否",
            "、".join(r.detail["missing"]) or None,
            r.detail.get("excluded"),
        ]
        for r in references
    ]
    chart = [Bar(r.name, r.score) for r in references if r.score is not None]
    return bulletin_render.Section("未设省级开发区的县（区）参考得分", columns, rows, chart=chart, value_label=score)


def render(document: bulletin_render.Bulletin, fmt: BulletinFormat) -> tuple[bytes, str]:
    """Render a bulletin as bytes with its media type."""
    if fmt == "csv":
        return bulletin_render.render_csv(document), "text/csv; charset=utf-8"
    if fmt == "xlsx":
        return (
            bulletin_render.render_xlsx(document),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    return bulletin_render.render_html(document).encode("utf-8"), "text/html; charset=utf-8"
