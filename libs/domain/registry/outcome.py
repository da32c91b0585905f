"""What applying an act gives: the zones' new states, lineage and changes, or every fault."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from libs.domain.kernel.i18n import Text
from libs.domain.registry.snapshots import ZoneSnapshot


@dataclass(frozen=True, slots=True)
class Fault:
    """Why one operation of an act cannot be applied."""

    index: int
    code: str
    message: Text
    field: str | None = None

    def as_error(self) -> dict[str, Any]:
        """The fault as an entry of a problem's ``errors`` list."""
        loc: list[str | int] = ["body", "operations", self.index]
        if self.field:
            loc.append(self.field)
        return {"loc": loc, "index": self.index, "type": self.code, "msg": self.message}


@dataclass(frozen=True, slots=True)
class LineageEdge:
    """``source`` became (part of) ``target`` by ``operation`` in this act."""

    source: str
    target: str
    operation: Literal["merge", "split"]
    op_index: int


@dataclass(frozen=True, slots=True)
class ChangeNote:
    """A readable account of what one operation did to one zone."""

    op_index: int
    op: str
    zone: str
    description: str


@dataclass
class ActOutcome:
    """What an act does: new states (one per touched zone), ids of established zones, lineage."""

    effective_on: date
    created: dict[str, str] = field(default_factory=dict)
    states: dict[str, ZoneSnapshot] = field(default_factory=dict)
    touched: list[str] = field(default_factory=list)
    edges: list[LineageEdge] = field(default_factory=list)
    changes: list[ChangeNote] = field(default_factory=list)


class ActRefused(Exception):
    """The act is invalid on its effective date; ``faults`` lists every failing operation."""

    def __init__(self, faults: list[Fault]) -> None:
        super().__init__(f"{len(faults)} operation fault(s)")
        self.faults = faults
