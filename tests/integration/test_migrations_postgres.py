"""Every service's Alembic history builds its schema on PostgreSQL, and that schema is exactly
what the service's tables declare (a forgotten migration fails here)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from services.catalog import definitions
from services.chassis.migrations import upgrade


@pytest.mark.integration
@pytest.mark.parametrize("definition", definitions(), ids=lambda d: d.name)
def test_migrations_match_tables(definition, fresh_database):
    engine = create_engine(fresh_database(definition.name))
    try:
        upgrade(definition.migrations_dir, engine)
        upgrade(definition.migrations_dir, engine)  # a second run (pod restart) changes nothing
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), definition.metadata)
        assert diff == []
        tables = set(inspect(engine).get_table_names())
        assert {"outbox", "inbox", "number_sequences", "alembic_version"} <= tables
        assert set(definition.metadata.tables) <= tables
    finally:
        engine.dispose()
