"""Alembic migrations of the store, shipped inside the package (see api_engine.store.migrate)."""
