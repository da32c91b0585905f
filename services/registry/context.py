"""What every registry write runs in: the request's session, the caller, this instance's read model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from services.common.db import on_commit
from services.registry.readmodel import ReadModel


@dataclass(frozen=True, slots=True)
class WriteContext:
    """The session a write flushes into (the request commits it), who writes, and the read model
    to tell of the change (``None`` where no index is kept: scripts, the memory index switched off)."""

    session: AsyncSession
    actor: Actor
    readmodel: ReadModel[Any] | None = None

    def announce(self, change_id: int) -> None:
        """Once committed, this instance's read model must include ``change_id``."""
        readmodel = self.readmodel
        if readmodel is not None:
            on_commit(self.session, lambda: readmodel.require(change_id))
