"""Write the next Alembic revision by comparing tables with the migrated schema, on PostgreSQL.

    python scripts/new-migration.py order "add change requests"      # a service's own tables
    python scripts/new-migration.py chassis "add a column to outbox"   # the chassis branch, once

Creates a scratch PostgreSQL database (OMS_SCRATCH_PG_DSN, default the local server), runs the
existing migrations of every branch, diffs with Alembic's own autogenerate against the tables
the code declares (a service's own tables, or the chassis's: outbox, inbox, ...), writes the next
revision file of that branch, and drops the scratch database.
"""

import importlib
import os
import re
import sys
import textwrap
import uuid

import psycopg
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine

from services.chassis.migrations import CHASSIS_BRANCH, CHASSIS_VERSIONS, alembic_config, upgrade
from services.chassis.tables import add_chassis_tables

TEMPLATE = '''"""{message}

Revision ID: {rev}
Revises: {down}
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "{rev}"
down_revision = {down_repr}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''
CARRIER = "customer"  # the chassis branch is diffed on this service's database


def _indented(code: str) -> str:
    return textwrap.indent(
        textwrap.dedent(
            "\n".join(
                line for line in code.splitlines() if line.strip() and not line.strip().startswith("# ###")
            )
        ),
        "    ",
    )


def chassis_tables() -> set[str]:
    metadata = MetaData()
    add_chassis_tables(metadata)
    return set(metadata.tables)


def main(target: str, message: str) -> None:
    chassis = target == CHASSIS_BRANCH
    definition = importlib.import_module(f"services.{CARRIER if chassis else target}.app").definition
    versions = CHASSIS_VERSIONS if chassis else definition.migrations_dir / "versions"
    mine = chassis_tables()

    def include_object(obj, name, type_, _reflected, _compare_to) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table is None or (table in mine) == chassis

    dsn = os.environ.get("OMS_SCRATCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
    scratch = f"oms_scratch_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{dsn}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
    engine = create_engine(f"{dsn.replace('postgresql://', 'postgresql+psycopg://')}/{scratch}")
    try:
        upgrade(definition.migrations_dir, engine)
        prefix = "chassis_" if chassis else f"{target}_"
        heads = ScriptDirectory.from_config(alembic_config(definition.migrations_dir, engine)).get_heads()
        heads += ["chassis_0001"] if chassis and not any(h.startswith(prefix) for h in heads) else []
        (head,) = [h for h in heads if h.startswith(prefix)]
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_object": include_object}
            ctx = MigrationContext.configure(conn, opts=opts)
            script = produce_migrations(ctx, definition.metadata)
            upgrade_code = render_python_code(script.upgrade_ops, migration_context=ctx)
            downgrade_code = render_python_code(script.downgrade_ops, migration_context=ctx)
    finally:
        engine.dispose()
        with psycopg.connect(f"{dsn}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    number = int(head.rsplit("_", 1)[1]) + 1
    rev = f"{prefix}{number:04d}"
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    body = TEMPLATE.format(
        message=message,
        rev=rev,
        down=head,
        down_repr=repr(head),
        upgrade=_indented(upgrade_code),
        downgrade=_indented(downgrade_code),
    ).replace("services.chassis.tables.UtcDateTime(timezone=True)", "sa.DateTime(timezone=True)")
    path = versions / (f"{rev}_{slug}.py" if chassis else f"{number:04d}_{slug}.py")
    path.write_text(body)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
