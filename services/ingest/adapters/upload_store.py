"""Agents' uploads of the caller's tenant, one per file content."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from services.chassis import identity
from services.chassis.db import insert_for
from services.chassis.scoping import scoped
from services.ingest.adapters.market_store import dumps
from services.ingest.adapters.tables import uploads


@dataclass
class Upload:
    file_sha256: str
    filename: str
    state: str  # processing | done
    run_id: str
    rows_ok: int = 0
    rows_bad: int = 0
    orders: list[dict[str, Any]] = field(default_factory=list)
    error_report: bytes | None = None
    warnings: list[str] = field(default_factory=list)
    uploaded_at: datetime | None = None


class UploadStore:
    def __init__(self, db: Connection, track=None):
        self._db = db

    def get(self, sha256: str) -> Upload | None:
        t = uploads
        wanted = [c for c in t.c if c.name != "data"]  # the archived file itself stays where it is
        r = self._db.execute(scoped(select(*wanted).where(t.c.file_sha256 == sha256), t)).first()
        if r is None:
            return None
        done = json.loads(r.orders)
        return Upload(
            r.file_sha256,
            r.filename,
            r.state,
            r.run_id,
            r.rows_ok,
            r.rows_bad,
            done.get("orders", []) if isinstance(done, dict) else done,
            bytes(r.error_report) if r.error_report is not None else None,
            done.get("warnings", []) if isinstance(done, dict) else [],
            r.uploaded_at,
        )

    def start(self, sha256: str, filename: str, run_id: str, now: datetime, data: bytes = b"") -> bool:
        """Claim the file; False when it is already there (uploaded before, or being uploaded)."""
        caller = identity.current()
        return (
            self._db.execute(
                insert_for(self._db, uploads)
                .values(
                    tenant_id=caller.tenant_id,
                    file_sha256=sha256,
                    filename=filename[:200],
                    uploaded_by=caller.user[:64],
                    uploaded_at=now,
                    state="processing",
                    run_id=run_id,
                    data=data or None,
                )
                .on_conflict_do_nothing()
                # RETURNING says whether a row went in (psycopg reports no rowcount for this insert)
                .returning(uploads.c.file_sha256)
            ).first()
            is not None
        )

    def finish(self, u: Upload) -> None:
        t = uploads
        self._db.execute(
            update(t)
            .where(t.c.tenant_id == identity.current().tenant_id, t.c.file_sha256 == u.file_sha256)
            .values(
                state="done",
                rows_ok=u.rows_ok,
                rows_bad=u.rows_bad,
                orders=dumps({"orders": u.orders, "warnings": u.warnings[:1000]}),
                error_report=u.error_report,
            )
        )
