"""Queries of the material files."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.permits.tables import (
    Application,
    ApplicationMaterial,
    MaterialFile,
)


class FileRepository:
    """Uploaded material files."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, file_id: str) -> MaterialFile | None:
        """The file ``file_id`` (content included)."""
        return await self.session.get(MaterialFile, file_id)

    async def many(self, ids: Sequence[str]) -> dict[str, MaterialFile]:
        """The files of ``ids``."""
        if not ids:
            return {}
        rows = await self.session.scalars(select(MaterialFile).where(MaterialFile.id.in_(set(ids))))
        return {f.id: f for f in rows}

    async def same(self, uploaded_by: str, sha256: str, filename: str) -> MaterialFile | None:
        """A file the same person already uploaded with the same content and name."""
        row: MaterialFile | None = await self.session.scalar(
            select(MaterialFile).where(
                MaterialFile.uploaded_by == uploaded_by,
                MaterialFile.sha256 == sha256,
                MaterialFile.filename == filename,
            )
        )
        return row

    async def add(self, row: MaterialFile) -> None:
        """Insert a file."""
        self.session.add(row)
        await self.session.flush()

    async def used_in_zones(self, file_id: str) -> set[str]:
        """Zones of the cases that list the file."""
        rows = await self.session.scalars(
            select(Application.zone)
            .join(ApplicationMaterial, ApplicationMaterial.application_id == Application.id)
            .where(ApplicationMaterial.file_id == file_id)
        )
        return set(rows)
