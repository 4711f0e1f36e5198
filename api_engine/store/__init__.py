"""The store: SQLAlchemy 2 (async) on SQLite or PostgreSQL, schema created by Alembic migrations.

Strategy: `schema` declares the tables, `migrations/` (inside this package) creates them,
`migrate` runs those migrations from an installed package, `store.Store` holds the engine and the
queries. Nothing here knows EDIFACT; the processor maps the domain model onto rows.
"""

from .migrate import alembic_config, current_revision, head_revision, upgrade
from .schema import metadata
from .store import AssemblyState, Connected, Store, StoredOutput

__all__ = ["AssemblyState", "Connected", "Store", "StoredOutput", "alembic_config", "current_revision", "head_revision",
           "metadata", "upgrade"]
