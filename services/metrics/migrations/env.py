"""Alembic environment of the metrics service."""

from services.common.alembic_env import run
from services.metrics.tables import Base

run(Base.metadata)
