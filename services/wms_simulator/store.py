"""The simulator's warehouse: stock per material and reservations, in SQLite behind one lock.

Every change runs under the lock in one transaction, so concurrent reserve requests see each
other: a reservation that would take more than is on hand minus what other open reservations
hold is refused as "short", the way a real WMS guards its own bins.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Quantities are decimals carried as floats: compare with a little slack and round what is stored,
# so 0.1 + 0.2 L of plating solution never counts as short of 0.3 L.
EPSILON = 1e-9
DIGITS = 6

SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (
    warehouse TEXT NOT NULL,
    material TEXT NOT NULL,
    unit TEXT NOT NULL,
    on_hand REAL NOT NULL,
    location TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (warehouse, material)
);
CREATE TABLE IF NOT EXISTS reservations (
    warehouse TEXT NOT NULL,
    id TEXT NOT NULL,
    order_no TEXT NOT NULL,
    hard_lock INTEGER NOT NULL,
    state TEXT NOT NULL,            -- open, released, issued
    updated_at TEXT NOT NULL,
    PRIMARY KEY (warehouse, id)
);
CREATE TABLE IF NOT EXISTS reservation_lines (
    warehouse TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    material TEXT NOT NULL,
    unit TEXT NOT NULL,
    quantity REAL NOT NULL,
    PRIMARY KEY (warehouse, reservation_id, material)
);
CREATE INDEX IF NOT EXISTS reservation_lines_material ON reservation_lines (warehouse, material);
"""


class SimError(Exception):
    """A request the warehouse refuses: HTTP status, a short code and a message (plus details)."""

    def __init__(self, status: int, code: str, message: str, **details: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}


@dataclass(frozen=True)
class Line:
    material: str
    unit: str
    quantity: float


class Store:
    def __init__(self, path: str = ":memory:"):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- stock ------------------------------------------------------------------------------

    def stock(self, warehouse: str, materials: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Known materials (all of the warehouse's when `materials` is empty), with what open
        reservations hold of each."""
        with self._tx() as db:
            sql = "SELECT material, unit, on_hand, location FROM stock WHERE warehouse = ?"
            args: list[Any] = [warehouse]
            if materials:
                sql += f" AND material IN ({','.join('?' * len(materials))})"
                args += list(materials)
            rows = db.execute(sql + " ORDER BY material", args).fetchall()
            return [self._stock_item(db, warehouse, r) for r in rows]

    def put_stock(self, warehouse: str, material: str, unit: str, on_hand: float, location: str) -> dict:
        with self._tx() as db:
            db.execute(
                "INSERT INTO stock (warehouse, material, unit, on_hand, location) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (warehouse, material) DO UPDATE SET unit = excluded.unit, "
                "on_hand = excluded.on_hand, location = excluded.location",
                (warehouse, material, unit, round(on_hand, DIGITS), location),
            )
            row = db.execute(
                "SELECT material, unit, on_hand, location FROM stock WHERE warehouse = ? AND material = ?",
                (warehouse, material),
            ).fetchone()
            return self._stock_item(db, warehouse, row)

    @staticmethod
    def _reserved(db: sqlite3.Connection, warehouse: str, material: str, excluding: str = "") -> float:
        row = db.execute(
            "SELECT COALESCE(SUM(l.quantity), 0) FROM reservation_lines l JOIN reservations r "
            "ON r.warehouse = l.warehouse AND r.id = l.reservation_id "
            "WHERE l.warehouse = ? AND l.material = ? AND r.state = 'open' AND r.id != ?",
            (warehouse, material, excluding),
        ).fetchone()
        return float(row[0])

    def _stock_item(self, db: sqlite3.Connection, warehouse: str, row: sqlite3.Row) -> dict[str, Any]:
        return {
            "material": row["material"],
            "unit": row["unit"],
            "on_hand": row["on_hand"],
            "reserved": round(self._reserved(db, warehouse, row["material"]), DIGITS),
            "location": row["location"],
        }

    # -- reservations -----------------------------------------------------------------------

    def reservation(self, warehouse: str, reservation_id: str) -> dict[str, Any] | None:
        with self._tx() as db:
            return self._read(db, warehouse, reservation_id)

    def reservations(self, warehouse: str, state: str = "") -> list[dict[str, Any]]:
        with self._tx() as db:
            sql, args = "SELECT id FROM reservations WHERE warehouse = ?", [warehouse]
            if state:
                sql, args = sql + " AND state = ?", [*args, state]
            ids = [r[0] for r in db.execute(sql + " ORDER BY id", args).fetchall()]
            return [r for i in ids if (r := self._read(db, warehouse, i)) is not None]

    @staticmethod
    def _read(db: sqlite3.Connection, warehouse: str, reservation_id: str) -> dict[str, Any] | None:
        head = db.execute(
            "SELECT id, order_no, hard_lock, state, updated_at FROM reservations "
            "WHERE warehouse = ? AND id = ?",
            (warehouse, reservation_id),
        ).fetchone()
        if head is None:
            return None
        lines = db.execute(
            "SELECT material, unit, quantity FROM reservation_lines "
            "WHERE warehouse = ? AND reservation_id = ? ORDER BY material",
            (warehouse, reservation_id),
        ).fetchall()
        return {
            "id": head["id"],
            "order_no": head["order_no"],
            "hard_lock": bool(head["hard_lock"]),
            "state": head["state"],
            "lines": [dict(line) for line in lines],
            "updated_at": head["updated_at"],
        }

    def put_reservation(
        self, warehouse: str, reservation_id: str, order_no: str, hard_lock: bool, lines: Sequence[Line]
    ) -> tuple[dict[str, Any], bool]:
        """Create or replace; returns (the reservation, whether anything changed). The same request
        again changes nothing; a released reservation is opened again; an issued one cannot be
        changed (its material has left the warehouse)."""
        with self._tx() as db:
            old = self._read(db, warehouse, reservation_id)
            wanted = sorted((line.material, line.unit, round(line.quantity, DIGITS)) for line in lines)
            if old is not None:
                had = sorted((x["material"], x["unit"], x["quantity"]) for x in old["lines"])
                same = had == wanted and old["order_no"] == order_no and old["hard_lock"] == hard_lock
                if same and old["state"] in ("open", "issued"):
                    return old, False
                if old["state"] == "issued":
                    raise SimError(
                        409,
                        "issued",
                        f"reservation {reservation_id} was issued to the shop floor; it cannot change",
                    )
            held = (
                {x["material"]: x["quantity"] for x in old["lines"]} if old and old["state"] == "open" else {}
            )
            self._check_stock(db, warehouse, reservation_id, lines, held)
            db.execute(
                "INSERT INTO reservations (warehouse, id, order_no, hard_lock, state, updated_at) "
                "VALUES (?, ?, ?, ?, 'open', ?) ON CONFLICT (warehouse, id) DO UPDATE SET "
                "order_no = excluded.order_no, hard_lock = excluded.hard_lock, state = 'open', "
                "updated_at = excluded.updated_at",
                (warehouse, reservation_id, order_no, int(hard_lock), _now()),
            )
            db.execute(
                "DELETE FROM reservation_lines WHERE warehouse = ? AND reservation_id = ?",
                (warehouse, reservation_id),
            )
            db.executemany(
                "INSERT INTO reservation_lines (warehouse, reservation_id, material, unit, quantity) "
                "VALUES (?, ?, ?, ?, ?)",
                [(warehouse, reservation_id, m, u, q) for m, u, q in wanted],
            )
            new = self._read(db, warehouse, reservation_id)
            assert new is not None
            return new, True

    def _check_stock(
        self,
        db: sqlite3.Connection,
        warehouse: str,
        reservation_id: str,
        lines: Iterable[Line],
        held: dict[str, float],
    ) -> None:
        """Refuse a line that takes more than is free. Only growth is checked: replaying or
        shrinking a reservation always succeeds, even if on hand was counted down meanwhile."""
        short = []
        for line in lines:
            row = db.execute(
                "SELECT unit, on_hand FROM stock WHERE warehouse = ? AND material = ?",
                (warehouse, line.material),
            ).fetchone()
            if row is not None and row["unit"] != line.unit:
                raise SimError(
                    400,
                    "bad_request",
                    f"{line.material} is kept in {row['unit']}, not {line.unit}",
                )
            if line.quantity <= held.get(line.material, 0.0) + EPSILON:
                continue
            on_hand = float(row["on_hand"]) if row is not None else 0.0
            free = on_hand - self._reserved(db, warehouse, line.material, excluding=reservation_id)
            if line.quantity > free + EPSILON:
                short.append(
                    {
                        "material": line.material,
                        "unit": line.unit,
                        "requested": line.quantity,
                        "available": round(max(free, 0.0), DIGITS),
                    }
                )
        if short:
            what = "; ".join(
                f"{s['material']} {s['requested']:g} > {s['available']:g} {s['unit']}" for s in short
            )
            raise SimError(409, "short", f"not enough free stock: {what}", shortfall=short)

    def release(self, warehouse: str, reservation_id: str) -> tuple[dict[str, Any], bool]:
        with self._tx() as db:
            old = self._read(db, warehouse, reservation_id)
            if old is None:
                return {"id": reservation_id, "state": "released", "lines": []}, False
            if old["state"] == "issued":
                raise SimError(
                    409,
                    "issued",
                    f"reservation {reservation_id} was issued to the shop floor; nothing to release",
                )
            if old["state"] == "released":
                return old, False
            db.execute(
                "UPDATE reservations SET state = 'released', updated_at = ? WHERE warehouse = ? AND id = ?",
                (_now(), warehouse, reservation_id),
            )
            new = self._read(db, warehouse, reservation_id)
            assert new is not None
            return new, True

    def issue(self, warehouse: str, reservation_id: str) -> tuple[dict[str, Any], bool]:
        with self._tx() as db:
            old = self._read(db, warehouse, reservation_id)
            if old is None:
                raise SimError(404, "not_found", f"no reservation {reservation_id} in warehouse {warehouse}")
            if old["state"] == "issued":
                return old, False
            if old["state"] == "released":
                raise SimError(
                    409, "released", f"reservation {reservation_id} was released; nothing to issue"
                )
            short = []
            for line in old["lines"]:
                row = db.execute(
                    "SELECT on_hand FROM stock WHERE warehouse = ? AND material = ?",
                    (warehouse, line["material"]),
                ).fetchone()
                on_hand = float(row["on_hand"]) if row is not None else 0.0
                if line["quantity"] > on_hand + EPSILON:
                    short.append({**line, "available": on_hand})
            if short:
                what = "; ".join(f"{s['material']} {s['quantity']:g} > {s['available']:g}" for s in short)
                raise SimError(409, "short", f"not enough on hand to issue: {what}", shortfall=short)
            for line in old["lines"]:
                db.execute(
                    "UPDATE stock SET on_hand = ROUND(MAX(on_hand - ?, 0), ?) "
                    "WHERE warehouse = ? AND material = ?",
                    (line["quantity"], DIGITS, warehouse, line["material"]),
                )
            db.execute(
                "UPDATE reservations SET state = 'issued', updated_at = ? WHERE warehouse = ? AND id = ?",
                (_now(), warehouse, reservation_id),
            )
            new = self._read(db, warehouse, reservation_id)
            assert new is not None
            return new, True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
