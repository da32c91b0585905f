"""The materials of a case: the uploaded files a request names, and what is missing from a case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import AcceptCreate, MaterialSupplied, SupplementNotice
from services.permits.cases.documents import material_names
from services.permits.cases.drafts import AnyCase, AnyMaterial, NewMaterial
from services.permits.files.repository import FileRepository
from services.permits.tables import MaterialFile


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
            faults.append({"loc": ["body", where, i, "code"], "msg": "not a material of this item", "type": "unknown"})
        if f is None or (f.uploaded_by != actor.sub and not actor.has(Role.CITY_ADMIN, Role.WINDOW_CLERK)):
            faults.append({"loc": ["body", where, i, "file_id"], "msg": "no such uploaded file", "type": "unknown"})
            continue
        if m.sha256 is not None and m.sha256 != f.sha256:
            faults.append(
                {"loc": ["body", where, i, "sha256"], "msg": "does not match the stored file", "type": "hash_mismatch"}
            )
        out.append(f)
    if faults:
        raise Unprocessable("some materials cannot be taken", errors=faults)
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
        {"loc": ["body", where, i, "code"], "msg": "not a material of this item (or `other`)", "type": "unknown"}
        for i, item in enumerate(body.items)
        if item.code not in known
    ]
    if faults:
        raise Unprocessable("the notice names unknown materials", errors=faults)


def acceptance_faults(case: AnyCase, materials: Sequence[AnyMaterial], body: AcceptCreate) -> list[dict[str, Any]]:
    """Why the case cannot be accepted as it stands (mandatory materials missing, 容缺 not allowed)."""
    missing = missing_mandatory(case, materials)
    specs = {m["code"]: m for m in case.item_snapshot.get("materials", [])}
    faults: list[dict[str, Any]] = []
    if body.pending and not case.item_snapshot.get("accept_pending_minor"):
        faults.append({"loc": ["body", "pending"], "msg": "this item does not allow 容缺受理", "type": "not_allowed"})
    for i, p in enumerate(body.pending):
        spec = specs.get(p.code)
        if spec is None or not spec.get("minor"):
            faults.append({"loc": ["body", "pending", i, "code"], "msg": "not a minor material", "type": "not_minor"})
        elif p.code not in missing:
            faults.append({"loc": ["body", "pending", i, "code"], "msg": "already supplied", "type": "supplied"})
    pending_codes = {p.code for p in body.pending}
    still_missing = [c for c in missing if c not in pending_codes]
    if still_missing:
        faults.append(
            {
                "loc": ["body"],
                "msg": f"mandatory materials missing: {', '.join(still_missing)}; request supplements instead",
                "type": "materials_missing",
            }
        )
    return faults
