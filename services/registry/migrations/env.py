"""Alembic environment of the registry service."""

from services.common.alembic_env import run
from services.registry.tables import Base

run(Base.metadata)
