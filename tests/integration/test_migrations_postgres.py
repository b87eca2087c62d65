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


@pytest.mark.integration
def test_a_chassis_change_is_written_once_and_reaches_every_service(fresh_database, tmp_path, monkeypatch):
    """The chassis's tables change on one Alembic branch applied beside each service's own
    history: one revision file, every service database (new or already migrated) gets it."""
    import shutil

    from services.chassis import migrations

    branch = tmp_path / "chassis_migrations"
    shutil.copytree(migrations.CHASSIS_VERSIONS, branch)
    (branch / "chassis_0002_probe.py").write_text(
        '"""probe"""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        'revision = "chassis_0002"\ndown_revision = "chassis_0001"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade():\n"
        '    op.create_table("chassis_probe", sa.Column("id", sa.Integer, primary_key=True))\n\n\n'
        "def downgrade():\n"
        '    op.drop_table("chassis_probe")\n'
    )
    engines = {d.name: create_engine(fresh_database(d.name)) for d in definitions()}
    try:
        already = engines["order"]
        upgrade(next(d for d in definitions() if d.name == "order").migrations_dir, already)  # before
        monkeypatch.setattr(migrations, "CHASSIS_VERSIONS", branch)
        for definition in definitions():
            upgrade(definition.migrations_dir, engines[definition.name])
            assert "chassis_probe" in inspect(engines[definition.name]).get_table_names(), definition.name
    finally:
        for engine in engines.values():
            engine.dispose()
