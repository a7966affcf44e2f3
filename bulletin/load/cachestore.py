"""The parse cache's file: one SQLite database of issue records (by folder) and file
records (by path), each pickled with its paths relative to its folder. Any error
reading it means a cache started afresh; a build writes only the rows that changed.
"""

from __future__ import annotations

import io
import os
import pickle
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulletin.errors import Problem
from bulletin.load.sqlitefile import SqliteFile
from bulletin.model import Issue

FILE = "parsed.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, folder TEXT, size INTEGER,
    mtime_ns INTEGER, digest TEXT, record BLOB);
CREATE TABLE IF NOT EXISTS issues (folder TEXT PRIMARY KEY, fingerprint TEXT, record BLOB);
"""


@dataclass(frozen=True)
class Entry:
    """A parsed file: an Article or a YamlDoc (None: the file had errors)."""

    size: int
    mtime_ns: int
    digest: str  # sha1 of the file's bytes
    parsed: Any
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class IssueEntry:
    """A loaded issue folder (None: it had errors) and what loading it reported."""

    fingerprint: str
    issue: Issue | bytes | None  # bytes: as read from the store, made whole when used
    problems: tuple[Problem, ...]


class CacheStore(SqliteFile):
    """The SQLite file: issue records by folder, file records by path. Any error
    reading it means a cache started afresh."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def open(self, salt: str | None) -> bool:
        """Connect; False when the file was unusable or from other settings (then it
        is emptied)."""
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            if row and row[0] == salt:
                return True
            with self.db:
                self.db.execute("DELETE FROM files")
                self.db.execute("DELETE FROM issues")
            return row is None  # an empty cache lost nothing
        except sqlite3.Error as error:
            self.recover(error)
            return False

    def issues(self) -> dict[str, IssueEntry]:
        """Every issue record, still pickled (made whole only when used)."""
        rows = self._rows("SELECT folder, fingerprint, record FROM issues")
        return {folder: IssueEntry(fingerprint, record, ()) for folder, fingerprint, record in rows}

    def file(self, key: str, path: Path) -> Entry | None:
        rows = self._rows("SELECT size, mtime_ns, digest, record FROM files WHERE path = ?", (key,))
        if not rows:
            return None
        size, mtime_ns, digest, record = rows[0]
        try:
            parsed, problems = load_record(record, path.parent)
        except Exception:
            return None
        return Entry(size, mtime_ns, digest, parsed, problems)

    def write(self, salt, files: dict[str, Entry], issues: dict[str, IssueEntry], folders) -> None:
        # rows made one at a time: a cold build pickles thousands
        file_rows = (
            (key, os.path.dirname(key), e.size, e.mtime_ns, e.digest, dump_record(e, key))
            for key, e in files.items()
        )
        issue_rows = (
            (key, e.fingerprint, dump_record(e, key, issue=True)) for key, e in issues.items()
        )
        try:
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('salt', ?)", (salt,))
                self.db.executemany(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", file_rows
                )
                self.db.executemany("INSERT OR REPLACE INTO issues VALUES (?, ?, ?)", issue_rows)
                self.db.execute("CREATE TEMP TABLE IF NOT EXISTS present (folder TEXT)")
                self.db.execute("DELETE FROM present")
                self.db.executemany("INSERT INTO present VALUES (?)", [(f,) for f in folders])
                for table in ("issues", "files"):
                    self.db.execute(
                        f"DELETE FROM {table} WHERE folder NOT IN (SELECT folder FROM present)"
                    )
        except sqlite3.Error as error:
            self.recover(error)

    def _rows(self, query: str, parameters: tuple = ()) -> list[tuple]:
        try:
            return self.db.execute(query, parameters).fetchall()
        except sqlite3.Error as error:
            self.recover(error)
            return []


def dump_record(entry: Entry | IssueEntry, key: str, issue: bool = False) -> bytes:
    """An entry's content pickled with its paths relative to its folder: a Path object
    costs more to unpickle than the rest of an article."""
    folder = key if issue else os.path.dirname(key)
    content = (entry.issue if issue else entry.parsed, entry.problems)
    buffer = io.BytesIO()
    _Pickler(buffer, folder).dump(content)
    return buffer.getvalue()


def load_record(record: bytes, folder: Path) -> tuple[Any, tuple[Problem, ...]]:
    content, problems = _Unpickler(io.BytesIO(record), folder).load()
    return content, problems


class _Pickler(pickle.Pickler):
    def __init__(self, stream, folder: str) -> None:
        super().__init__(stream, protocol=pickle.HIGHEST_PROTOCOL)
        self.folder = folder

    def persistent_id(self, obj):
        if isinstance(obj, Path):
            parent, name = os.path.split(str(obj))
            if str(obj) == self.folder:
                return ("folder",)
            if parent == self.folder:
                return ("child", name)
            return ("path", str(obj))
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, stream, folder: Path) -> None:
        super().__init__(stream)
        self.folder = folder

    def persistent_load(self, pid):
        kind, *rest = pid
        if kind == "folder":
            return self.folder
        if kind == "child":
            return self.folder / rest[0]
        return Path(rest[0])
