"""Alembic per service: each service keeps its own history in `services/<name>/migrations`.

A service's `migrations/env.py` is two lines: import its metadata and call `run_env(metadata)`.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Engine, MetaData, text

# The chassis's own tables (outbox, inbox, sequences, applied versions, job leases) change on one
# Alembic branch, labelled "chassis", whose revisions live here and are applied to every
# service's database beside the service's own history. (Before this branch existed each
# service's early revisions created their own copies; the branch starts from that schema.)
CHASSIS_VERSIONS = Path(__file__).resolve().parent / "chassis_migrations"
CHASSIS_BRANCH = "chassis"


def alembic_config(migrations_dir: Path, engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option(
        "version_locations", os.pathsep.join([str(migrations_dir / "versions"), str(CHASSIS_VERSIONS)])
    )
    cfg.set_main_option("version_table", "alembic_version")
    cfg.attributes["engine"] = engine
    return cfg


MIGRATION_LOCK = 0x0D5_0001  # pg_advisory_lock key: replicas starting together migrate one at a time


def upgrade(migrations_dir: Path, engine: Engine) -> None:
    """Bring the service's database to the newest revision (idempotent, safe to run concurrently)."""
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(migrations_dir, engine), "heads")
        return
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        try:
            command.upgrade(alembic_config(migrations_dir, engine), "heads")
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})


def run_env(metadata: MetaData) -> None:
    """Body of every service's env.py (online mode only: we always have the engine)."""
    engine: Engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=engine.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
