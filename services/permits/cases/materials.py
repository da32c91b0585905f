"""The materials of a case: the uploaded files a request names, and what is missing from a case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import AcceptCreate, MaterialSupplied, SupplementNotice
from services.permits.cases.documents import material_names
from services.permits.cases.drafts import AnyCase, AnyMaterial, NewMaterial
from services.permits.files.repository import FileRepository
from services.permits.tables import MaterialFile


def fault(loc: list[str | int], type_: str, msg: Text, code: str | None = None) -> dict[str, Any]:
    """One ``errors[]`` entry: where, its ``type``, its message, and its ``code`` (the type's unless named)."""
    return {"loc": loc, "msg": msg, "type": type_, "code": code or type_}


def not_acceptable(faults: list[dict[str, Any]]) -> Unprocessable:
    """The 422 for a case the window cannot accept as it stands (``faults`` say why)."""
    return Unprocessable(
        Text("该申请目前不符合受理条件", "the application cannot be accepted as it stands"),
        errors=faults,
        code="not_acceptable",
    )


_NOT_A_MATERIAL = Text("不是本事项的申请材料", "not a material of this item")


async def files_for(
    session: AsyncSession, actor: Actor, supplied: Sequence[MaterialSupplied], known: dict[str, str], where: str
) -> list[MaterialFile]:
    """The uploaded files ``supplied`` names, in order; 422 naming each one that cannot be taken."""
    files = await FileRepository(session).many([m.file_id for m in supplied])
    faults: list[dict[str, Any]] = []
    out: list[MaterialFile] = []
    for i, m in enumerate(supplied):
        f = files.get(m.file_id)
        if m.code not in known:
            faults.append(fault(["body", where, i, "code"], "unknown", _NOT_A_MATERIAL, "unknown_material"))
        if f is None or (f.uploaded_by != actor.sub and not actor.has(Role.CITY_ADMIN, Role.WINDOW_CLERK)):
            faults.append(
                fault(
                    ["body", where, i, "file_id"],
                    "unknown",
                    Text("没有该上传文件", "no such uploaded file"),
                    "unknown_file",
                )
            )
            continue
        if m.sha256 is not None and m.sha256 != f.sha256:
            faults.append(
                fault(
                    ["body", where, i, "sha256"],
                    "hash_mismatch",
                    Text("与已存储的文件不一致", "does not match the stored file"),
                )
            )
        out.append(f)
    if faults:
        raise Unprocessable(
            Text("部分材料无法接收", "some materials cannot be taken"), errors=faults, code="materials_not_taken"
        )
    return out


def material_rows(
    case_id: str, supplied: Sequence[MaterialSupplied], files: Sequence[MaterialFile], rnd: int, now: datetime
) -> list[NewMaterial]:
    """The materials handed in (round ``rnd``), to insert."""
    return [
        NewMaterial(
            application_id=case_id,
            code=m.code,
            file_id=f.id,
            sha256=f.sha256,
            size_bytes=f.size_bytes,
            filename=f.filename,
            round=rnd,
            supplied_at=now,
        )
        for m, f in zip(supplied, files, strict=True)
    ]


def missing_mandatory(case: AnyCase, materials: Sequence[AnyMaterial]) -> list[str]:
    """The codes of the item's mandatory materials the case does not have."""
    supplied = {m.code for m in materials}
    return [m["code"] for m in case.item_snapshot.get("materials", []) if m["mandatory"] and m["code"] not in supplied]


def check_notice(case: AnyCase, body: SupplementNotice, where: str) -> None:
    """422 unless every item of a supplement notice names a material of the case's item (or `other`)."""
    known = set(material_names(case)) | {"other"}
    faults = [
        fault(
            ["body", where, i, "code"],
            "unknown",
            Text("不是本事项的申请材料（也不是 `other`）", "not a material of this item (or `other`)"),
            "unknown_material",
        )
        for i, item in enumerate(body.items)
        if item.code not in known
    ]
    if faults:
        raise Unprocessable(
            Text("补正告知中有本事项没有的材料", "the notice names unknown materials"),
            errors=faults,
            code="unknown_material",
        )


def acceptance_faults(case: AnyCase, materials: Sequence[AnyMaterial], body: AcceptCreate) -> list[dict[str, Any]]:
    """Why the case cannot be accepted as it stands (mandatory materials missing, 容缺 not allowed)."""
    missing = missing_mandatory(case, materials)
    specs = {m["code"]: m for m in case.item_snapshot.get("materials", [])}
    faults: list[dict[str, Any]] = []
    if body.pending and not case.item_snapshot.get("accept_pending_minor"):
        faults.append(
            fault(
                ["body", "pending"],
                "not_allowed",
                Text("本事项不允许容缺受理", "this item does not allow 容缺受理"),
                "pending_not_allowed",
            )
        )
    for i, p in enumerate(body.pending):
        spec = specs.get(p.code)
        if spec is None or not spec.get("minor"):
            faults.append(
                fault(["body", "pending", i, "code"], "not_minor", Text("不是次要材料", "not a minor material"))
            )
        elif p.code not in missing:
            faults.append(fault(["body", "pending", i, "code"], "supplied", Text("该材料已提交", "already supplied")))
    pending_codes = {p.code for p in body.pending}
    still_missing = [c for c in missing if c not in pending_codes]
    if still_missing:
        faults.append(
            fault(
                ["body"],
                "materials_missing",
                Text(
                    f"缺少必要材料：{'、'.join(still_missing)}；请改为一次性告知补正",
                    f"mandatory materials missing: {', '.join(still_missing)}; request supplements instead",
                ),
            )
        )
    return faults
