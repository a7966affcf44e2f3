"""A SQLite file of the build cache, as the cache's stores share it.

One connection per process: made again after a fork (a connection must never cross
one) and when the file was replaced or deleted meanwhile, by another process or by
hand, which a long-lived builder notices at the start of each build. A damaged file
is started afresh; a file another process holds too long is left alone, and the
cache is skipped for that step (it is an optimisation only).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


class SqliteFile:
    def __init__(self, path: Path, schema: str, version: int) -> None:
        self.path = path
        self.schema = schema
        self.version = version  # of the schema: a file made to another is started afresh
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._identity: tuple[int, int] | None = None
        self._data_version: int | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = self._connect()
            if self._connection.execute("PRAGMA user_version").fetchone()[0] != self.version:
                self._connection.close()  # made by another version of bulletin: afresh
                self._unlink()
                self._connection = self._connect()
            with self._connection:
                self._connection.executescript(self.schema)
                self._connection.execute(f"PRAGMA user_version = {int(self.version)}")
            self._pid = os.getpid()
            self._identity = _identity(self.path)
        return self._connection

    def changed_elsewhere(self) -> bool:
        """Whether another process committed to the file since this one last asked
        (SQLite's data_version): what this process read from it may be stale."""
        try:
            version = self.db.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return True
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        return changed

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, check_same_thread=False)

    def refresh(self) -> bool:
        """Drop the connection when the file is no longer the one it was made to;
        True when so (what was read from it may be gone too)."""
        if self._connection is None or _identity(self.path) == self._identity:
            return False
        self.close()
        return True

    def close(self) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None
        self._data_version = None

    def reset(self) -> None:
        """Start the file afresh (it was damaged, or from another version)."""
        self.close()
        self._unlink()

    def _unlink(self) -> None:
        for path in (self.path, self.path.with_name(self.path.name + "-journal")):
            path.unlink(missing_ok=True)

    def recover(self, error: sqlite3.Error) -> None:
        """After an error: a damaged file is started afresh, a busy one left alone."""
        busy = isinstance(error, sqlite3.OperationalError) and (
            "locked" in str(error) or "busy" in str(error)
        )
        if not busy:
            self.reset()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
