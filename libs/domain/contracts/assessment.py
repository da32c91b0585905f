"""The HTTP API of the assessment service."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OutcomeRead(BaseModel):
    """A reward or warning decided by an assessment run, with the rule that triggered it."""

    assessment: int
    zone: str
    outcome: str = Field(description="`commended` or `warned`.")
    rule: str
    detail: str
