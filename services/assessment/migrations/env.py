"""Alembic environment of the assessment service."""

from services.assessment.tables import Base
from services.common.alembic_env import run

run(Base.metadata)
