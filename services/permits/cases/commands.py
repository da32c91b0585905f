"""The commands of the case use cases: what to do to which case, with the ``If-Match`` it was read at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from libs.domain.permits.contracts import (
    AcceptCreate,
    ApplicationCreate,
    DecisionCreate,
    DeclineCreate,
    ExtensionCreate,
    RatingCreate,
    SpecialProcedureCreate,
    SpecialProcedureEnd,
    SupplementNotice,
    SupplementsCreate,
)
from services.permits.cases.repository import CaseFilter

Body = TypeVar("Body")


@dataclass(frozen=True, slots=True)
class CaseCommand(Generic[Body]):
    """A change of the case ``case_id`` asked with ``body``; ``if_match`` is the ETag it was read at."""

    case_id: str
    body: Body
    if_match: str | None = None


@dataclass(frozen=True, slots=True)
class FileApplication:
    """Hand in an application (and with ``body.accept``, accept it on the spot)."""

    body: ApplicationCreate


@dataclass(frozen=True, slots=True)
class AcceptCase(CaseCommand[AcceptCreate]):
    """Accept a submitted case (受理)."""


@dataclass(frozen=True, slots=True)
class RequestIntakeSupplements(CaseCommand[SupplementNotice]):
    """Ask, before acceptance, for everything missing at once (一次性告知)."""


@dataclass(frozen=True, slots=True)
class DeclineCase(CaseCommand[DeclineCreate]):
    """Decline as out of scope (不予受理)."""


@dataclass(frozen=True, slots=True)
class HandInSupplements(CaseCommand[SupplementsCreate]):
    """Hand in the supplements a notice asked for."""


@dataclass(frozen=True, slots=True)
class StartSpecialProcedure(CaseCommand[SpecialProcedureCreate]):
    """Start a special procedure: the clock stops."""


@dataclass(frozen=True, slots=True)
class EndSpecialProcedure(CaseCommand[SpecialProcedureEnd]):
    """End the special procedure ``procedure_id``: the clock runs again."""

    procedure_id: int = 0


@dataclass(frozen=True, slots=True)
class ExtendCase(CaseCommand[ExtensionCreate]):
    """Grant the case's one extension."""


@dataclass(frozen=True, slots=True)
class DecideCase(CaseCommand[DecisionCreate]):
    """Issue the decision."""


@dataclass(frozen=True, slots=True)
class RateCase(CaseCommand[RatingCreate]):
    """Rate the service (the applicant, once; never conditional on a version)."""


@dataclass(frozen=True, slots=True)
class ListCases:
    """The cases matching ``filters``, after the cursor ``after`` (``(submitted_at, id)``)."""

    filters: CaseFilter
    after: tuple[str, str] | None
    limit: int
