"""Articles' rendered bodies (HTML and plain text), kept apart from their front matter.

A rebuild needs every article's title, tags and dates, but the HTML of only the few
pages it renders again; so the parse cache holds light articles whose `Body` fetches
its HTML and text by digest from a SQLite store the first time they are asked for.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

FILE = "bodies.sqlite"


class BodyStore:
    """digest -> (html, text), in one SQLite file of the cache folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    @property
    def db(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():  # never share across fork
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS bodies (digest TEXT PRIMARY KEY, html BLOB, text BLOB)"
            )
            self._pid = os.getpid()
        return self._connection

    def get(self, digest: str, column: str) -> str | None:
        """The html or the text of a body (a page shows one of them)."""
        assert column in ("html", "text")
        row = self.db.execute(f"SELECT {column} FROM bodies WHERE digest = ?", (digest,)).fetchone()
        return _text(row[0]) if row else None

    def digests(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT digest FROM bodies")}

    def reset(self) -> None:
        """Start the store afresh (it was corrupt or from another version)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.path.unlink(missing_ok=True)

    def put(self, rows: list[tuple[str, str, str]]) -> None:
        """Stored as UTF-8 bytes: binding a str makes SQLite's driver keep a UTF-8 copy
        inside the str for as long as it lives, doubling what the bodies cost."""
        encoded = ((digest, html.encode(), text.encode()) for digest, html, text in rows)
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO bodies VALUES (?, ?, ?)", encoded)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value  # str: an older store


class Body:
    """An article's HTML and text: held in memory when just parsed and not yet
    stored; else fetched from the store each time they are asked for (a page asks
    once), so a large archive's bodies never all sit in memory at once."""

    __slots__ = ("_html", "_text", "digest", "store")

    def __init__(
        self,
        digest: str,
        html: str | None = None,
        text: str | None = None,
        store: BodyStore | None = None,
    ) -> None:
        self.digest, self._html, self._text, self.store = digest, html, text, store

    def _fetch(self, column: str) -> str:
        found = self.store.get(self.digest, column) if self.store else None
        if found is None:
            raise LookupError(f"the cached body {self.digest} is gone; delete .bulletin-cache/")
        return found

    @property
    def html(self) -> str:
        return self._html if self._html is not None else self._fetch("html")

    @property
    def text(self) -> str:
        return self._text if self._text is not None else self._fetch("text")

    @property
    def held(self) -> bool:
        """Whether the html and text are in memory (just parsed, not yet stored)."""
        return self._html is not None

    def release(self) -> None:
        """Forget the html and text once they are in the store."""
        if self.store is not None:
            self._html = self._text = None

    def __getstate__(self):  # pickled light: the digest only
        return self.digest

    def __setstate__(self, digest: str) -> None:
        self.digest, self._html, self._text, self.store = digest, None, None, None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Body) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"Body({self.digest})"
