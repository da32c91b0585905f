"""Alembic environment of the permits service."""

from services.common.alembic_env import run
from services.permits.tables import Base

run(Base.metadata)
