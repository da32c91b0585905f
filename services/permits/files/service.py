"""Material files: size-limited upload with a content hash, and reads by those who may see them."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import (
    NotFound,
    PayloadTooLarge,
    Unprocessable,
)
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import (
    FileRead,
)
from services.permits.files.repository import FileRepository
from services.permits.shared import is_city, new_id, utcnow
from services.permits.tables import MaterialFile


def _file_read(row: MaterialFile) -> FileRead:
    return FileRead(
        id=row.id,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        filename=row.filename,
        content_type=row.content_type,
        uploaded_at=row.uploaded_at,
        uploaded_by=row.uploaded_by,
    )


async def store_file(
    *,
    session: AsyncSession,
    actor: Actor,
    filename: str,
    content_type: str,
    chunks: AsyncIterable[bytes],
    max_bytes: int,
) -> tuple[FileRead, bool]:
    """Store an uploaded file; the same content and name uploaded again by the same person is not stored twice.

    Returns the file and whether it was created now. 413 beyond ``max_bytes``.
    """
    digest = hashlib.sha256()
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(
                Text(f"文件超过 {max_bytes} 字节的上限", f"the file exceeds the limit of {max_bytes} bytes"),
                code="file_too_large",
                limit_bytes=max_bytes,
            )
        digest.update(chunk)
        parts.append(chunk)
    if size == 0:
        raise Unprocessable(
            Text("文件为空", "the file is empty"),
            errors=[
                {"loc": ["body", "file"], "msg": Text("空文件", "empty file"), "type": "empty", "code": "empty_file"}
            ],
            code="empty_file",
        )
    sha = digest.hexdigest()
    name = (filename or "file").replace("/", "_").replace("\\", "_")[:255]
    repo = FileRepository(session)
    existing = await repo.same(actor.sub, sha, name)
    if existing is not None:
        return _file_read(existing), False
    row = MaterialFile(
        id=new_id(),
        sha256=sha,
        size_bytes=size,
        filename=name,
        content_type=(content_type or "application/octet-stream")[:200],
        content=b"".join(parts),
        uploaded_at=utcnow(),
        uploaded_by=actor.sub,
    )
    await repo.add(row)
    return _file_read(row), True


async def _visible_file(session: AsyncSession, actor: Actor, file_id: str) -> MaterialFile:
    repo = FileRepository(session)
    row = await repo.get(file_id)
    if row is None:
        raise NotFound(Text(f"文件 {file_id} 不存在", f"file {file_id} does not exist"), code="file_not_found")
    if row.uploaded_by == actor.sub or is_city(actor):
        return row
    staff_zone = actor.zone if actor.has(Role.WINDOW_CLERK, Role.BUREAU_ADMIN, Role.REVIEWER) else None
    if staff_zone is not None and staff_zone in await repo.used_in_zones(file_id):
        return row
    raise NotFound(Text(f"文件 {file_id} 不存在", f"file {file_id} does not exist"), code="file_not_found")


async def get_file(*, session: AsyncSession, actor: Actor, file_id: str) -> FileRead:
    """A file's metadata (its uploader, the city, and staff of a zone whose case lists it)."""
    return _file_read(await _visible_file(session, actor, file_id))


async def file_content(*, session: AsyncSession, actor: Actor, file_id: str) -> tuple[FileRead, bytes]:
    """A file's metadata and content."""
    row = await _visible_file(session, actor, file_id)
    return _file_read(row), row.content
