"""Write the next Alembic revision of one service by comparing its tables with its migrated schema.

    python scripts/new-migration.py order "add change requests"

Runs the service's existing migrations on a scratch SQLite database, diffs against the
service's metadata, and writes `services/<name>/migrations/versions/NNNN_<slug>.py`.
"""

import importlib
import re
import sys
import tempfile
import textwrap

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from services.chassis.migrations import alembic_config, upgrade

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


def _indented(code: str) -> str:
    return textwrap.indent(
        textwrap.dedent(
            "\n".join(
                line for line in code.splitlines() if line.strip() and not line.strip().startswith("# ###")
            )
        ),
        "    ",
    )


def main(service: str, message: str) -> None:
    app = importlib.import_module(f"services.{service}.app")
    definition = app.definition
    versions = definition.migrations_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/scratch.db")
        upgrade(definition.migrations_dir, engine)
        head = ScriptDirectory.from_config(
            alembic_config(definition.migrations_dir, engine)
        ).get_current_head()
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            script = produce_migrations(ctx, definition.metadata)
    number = len(list(versions.glob("[0-9][0-9][0-9][0-9]_*.py"))) + 1
    rev = f"{service}_{number:04d}"
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    body = TEMPLATE.format(
        message=message,
        rev=rev,
        down=head or "",
        down_repr=repr(head),
        upgrade=_indented(render_python_code(script.upgrade_ops, migration_context=ctx)),
        downgrade=_indented(render_python_code(script.downgrade_ops, migration_context=ctx)),
    )
    path = versions / f"{number:04d}_{slug}.py"
    path.write_text(body)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
