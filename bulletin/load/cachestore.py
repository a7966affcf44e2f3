"""The parse cache's file: one SQLite database of issue records (by folder) and file
records (by path), each pickled with its paths relative to its folder. Any error
reading it means a cache started afresh; a build writes only the rows that changed.
"""

from __future__ import annotations

import copyreg
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
_PATH = type(Path())  # the concrete class, PosixPath here
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, folder TEXT, size INTEGER,
    mtime_ns INTEGER, digest TEXT, record BLOB, body TEXT);
CREATE TABLE IF NOT EXISTS issues (folder TEXT PRIMARY KEY, fingerprint TEXT, record BLOB);
CREATE INDEX IF NOT EXISTS files_body ON files (body);
"""  # the index: counting the named bodies, every build, must not read every record


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
        super().__init__(path, _SCHEMA, version=2)

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

    def write(
        self, salt, files: dict[str, Entry], issues: dict[str, IssueEntry], folders, folder_of
    ) -> None:
        """Write these rows; then, given the issue `folders` there are, delete the rows of
        others. `folder_of(path)`: the issue folder a file belongs to."""
        # rows made one at a time: a cold build pickles thousands
        file_rows = (
            (key, folder_of(key), e.size, e.mtime_ns, e.digest, dump_record(e, key), _body(e))
            for key, e in files.items()
        )
        issue_rows = (
            (key, e.fingerprint, dump_record(e, key, issue=True)) for key, e in issues.items()
        )
        try:
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('salt', ?)", (salt,))
                self.db.executemany(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", file_rows
                )
                self.db.executemany("INSERT OR REPLACE INTO issues VALUES (?, ?, ?)", issue_rows)
                if folders is None:  # only some folders were loaded: the rest stay
                    return
                self.db.execute("CREATE TEMP TABLE IF NOT EXISTS present (folder TEXT)")
                self.db.execute("DELETE FROM present")
                self.db.executemany("INSERT INTO present VALUES (?)", [(f,) for f in folders])
                for table in ("issues", "files"):
                    self.db.execute(
                        f"DELETE FROM {table} WHERE folder NOT IN (SELECT folder FROM present)"
                    )
        except sqlite3.Error as error:
            self.recover(error)

    def named_bodies(self) -> int:
        """How many entries name a body (an article's rendered HTML and text)."""
        rows = self._rows("SELECT COUNT(body) FROM files")
        return rows[0][0] if rows else 0

    def live_bodies(self) -> set[str]:
        """The bodies the entries name; the body store holds these and older ones."""
        return {row[0] for row in self._rows("SELECT body FROM files WHERE body IS NOT NULL")}

    def _rows(self, query: str, parameters: tuple = ()) -> list[tuple]:
        try:
            return self.db.execute(query, parameters).fetchall()
        except sqlite3.Error as error:
            self.recover(error)
            return []


def _body(entry: Entry) -> str | None:
    """The digest of the body an entry names (an article's), so unnamed ones can go."""
    body = getattr(entry.parsed, "body", None)
    return getattr(body, "digest", None)


def dump_record(entry: Entry | IssueEntry, key: str, issue: bool = False) -> bytes:
    """An entry's content pickled with its paths relative to its folder: a Path object
    costs more to unpickle than the rest of an article."""
    folder = key if issue else os.path.dirname(key)
    content = (entry.issue if issue else entry.parsed, entry.problems)
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    # a reducer for paths alone: pickle's C code looks the type up and calls back
    # into Python only for a path, not for every object as persistent_id would
    pickler.dispatch_table = {**copyreg.dispatch_table, _PATH: _relative_to(folder)}
    pickler.dump(content)
    return buffer.getvalue()


def load_record(record: bytes, folder: Path) -> tuple[Any, tuple[Problem, ...]]:
    content, problems = _Unpickler(io.BytesIO(record), folder).load()
    return content, problems


def _relative_to(folder: str):
    def reduce(path: Path):
        parent, name = os.path.split(str(path))
        if str(path) == folder:
            return _in_folder, ("",)
        if parent == folder:
            return _in_folder, (name,)
        return _PATH, (str(path),)

    return reduce


def _in_folder(name: str) -> Path:
    raise AssertionError("made by _Unpickler.find_class, bound to the record's folder")


class _Unpickler(pickle.Unpickler):
    """Paths in the record's folder are made from the folder (no parsing)."""

    def __init__(self, stream, folder: Path) -> None:
        super().__init__(stream)
        self.folder = folder

    def find_class(self, module: str, name: str):
        if module == __name__ and name == "_in_folder":
            return lambda child: self.folder / child if child else self.folder
        return super().find_class(module, name)
