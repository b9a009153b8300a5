"""SQLite persistence for the sandbox: one generic object table plus small special tables.

Every Admin API resource is a JSON document of a `kind` with a globally unique integer id (3scale ids are
opaque to clients, so one sequence for all kinds keeps "another object's id" lookups simple and safe).
`generation` increases on every committed object write, so the gateway and backend can rebuild their
in-memory indexes only when configuration changed (one int compare per request).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from maas_sandbox.clock import Clock, iso

Obj = dict[str, Any]
MAX_ID = 2**63 - 1  # SQLite INTEGER range; larger ids cannot exist


def _dumps(value: Any) -> str:
    """JSON for a row: NaN/Infinity are refused here so no stored row can ever be invalid JSON."""
    return json.dumps(value, allow_nan=False)


def _as_id(obj_id: Any) -> int | None:
    try:
        oid = int(obj_id)
    except (TypeError, ValueError):
        return None
    return oid if 0 < oid <= MAX_ID else None

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_kind ON objects(kind);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    def __init__(self, path: Path | str, clock: Clock | None = None) -> None:
        self.path = str(path)
        self.clock = clock or Clock()
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._depth = 0
        self._dirty = False
        self.generation = 0

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Nested-safe transaction: the outermost one commits (or rolls back on error)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self.conn.execute("BEGIN IMMEDIATE")
                self._dirty = False
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self.conn.execute("ROLLBACK")
                    self._dirty = False
                raise
            self._depth -= 1
            if outer:
                self.conn.execute("COMMIT")
                if self._dirty:
                    self.generation += 1
                    self._dirty = False

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        with self.transaction():
            self._dirty = True
            return self.conn.execute(sql, params)

    # -- objects ------------------------------------------------------------------------------
    def insert(self, kind: str, data: Obj, *, stamp: bool = True) -> Obj:
        obj = dict(data)
        obj.pop("id", None)
        if stamp:
            now = iso(self.clock.now())
            obj.setdefault("created_at", now)
            obj.setdefault("updated_at", now)
        with self.transaction():
            cur = self._write("INSERT INTO objects(kind, data) VALUES (?, ?)", (kind, _dumps(obj)))
            obj = {"id": cur.lastrowid, **obj}
        return obj

    def get(self, kind: str, obj_id: int | str | None) -> Obj | None:
        oid = _as_id(obj_id)
        if oid is None:
            return None
        with self._lock:
            row = self.conn.execute("SELECT data FROM objects WHERE id=? AND kind=?", (oid, kind)).fetchone()
        return {"id": oid, **json.loads(row[0])} if row else None

    def list(self, kind: str, /, **where: Any) -> list[Obj]:
        """All objects of a kind whose top-level fields equal `where`, oldest first."""
        sql = "SELECT id, data FROM objects WHERE kind=?"
        params: list[Any] = [kind]
        for key, value in where.items():
            if value is None:
                sql += f" AND json_extract(data, '$.{key}') IS NULL"
            else:
                sql += f" AND json_extract(data, '$.{key}') = ?"
                # json_extract yields 1/0 for JSON booleans and JSON text for objects/arrays.
                if isinstance(value, bool):
                    params.append(int(value))
                else:
                    params.append(json.dumps(value) if isinstance(value, dict | list) else value)
        sql += " ORDER BY id"
        with self._lock:
            rows = self.conn.execute(sql, params).fetchall()
        return [{"id": r[0], **json.loads(r[1])} for r in rows]

    def first(self, kind: str, /, **where: Any) -> Obj | None:
        found = self.list(kind, **where)
        return found[0] if found else None

    def update(self, kind: str, obj_id: int, changes: Obj, *, stamp: bool = True) -> Obj:
        with self.transaction():
            current = self.get(kind, obj_id)
            if current is None:
                raise KeyError(f"{kind} {obj_id}")
            current.update({k: v for k, v in changes.items() if k != "id"})
            if stamp:
                current["updated_at"] = iso(self.clock.now())
            body = {k: v for k, v in current.items() if k != "id"}
            self._write("UPDATE objects SET data=? WHERE id=?", (_dumps(body), int(obj_id)))
        return current

    def delete(self, kind: str, obj_id: int) -> bool:
        if _as_id(obj_id) is None:
            return False
        cur = self._write("DELETE FROM objects WHERE id=? AND kind=?", (int(obj_id), kind))
        return cur.rowcount > 0

    def delete_where(self, kind: str, /, **where: Any) -> int:
        with self.transaction():
            ids = [o["id"] for o in self.list(kind, **where)]
            for oid in ids:
                self.delete(kind, oid)
        return len(ids)

    # -- settings -----------------------------------------------------------------------------
    def kv_get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self.conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def kv_set(self, key: str, value: Any) -> None:
        self._write(
            "INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, _dumps(value)),
        )

    def next_counter(self, key: str) -> int:
        """A persistent sequence (e.g. gateway port slots), never reusing a number."""
        with self.transaction():
            value = int(self.kv_get(key, 0)) + 1
            self.kv_set(key, value)
        return value

    # -- raw access for special tables (usage counters) -----------------------------------------
    def executescript(self, sql: str) -> None:
        with self._lock:
            self.conn.executescript(sql)

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self.transaction():
            self.conn.executemany(sql, rows)

    def close(self) -> None:
        with self._lock:
            self.conn.close()
