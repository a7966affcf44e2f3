"""Articles' rendered bodies (HTML and plain text), kept apart from their front matter.

A rebuild needs every article's title, tags and dates, but the HTML of only the few
pages it renders again; so the parse cache holds light articles whose `Body` fetches
its HTML and text by digest from a SQLite store the first time they are asked for.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bulletin.errors import BulletinError
from bulletin.load.sqlitefile import SqliteFile

FILE = "bodies.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS bodies (digest TEXT PRIMARY KEY, html BLOB, text BLOB,
    stored_s INTEGER);
"""
KEEP_SECONDS = 3600  # a body no entry names is kept this long: another build may be about to


class BodyStore(SqliteFile):
    """digest -> (html, text), in one SQLite file of the cache folder."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA, version=2)

    def get(self, digest: str, column: str) -> str | None:
        """The html or the text of a body (a page shows one of them)."""
        assert column in ("html", "text")
        query = f"SELECT {column} FROM bodies WHERE digest = ?"
        try:
            row = self.db.execute(query, (digest,)).fetchone()
        except sqlite3.Error as error:
            self.recover(error)
            raise BulletinError.single(
                f"the cache of rendered articles {self.path} could not be read: {error}",
                hint="it has been cleared; build again",
            ) from error
        return _text(row[0]) if row else None

    def digests(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT digest FROM bodies")}

    def put(self, rows: list[tuple[str, str, str]]) -> None:
        """Stored as UTF-8 bytes: binding a str makes SQLite's driver keep a UTF-8 copy
        inside the str for as long as it lives, doubling what the bodies cost."""
        now = int(time.time())
        encoded = ((digest, html.encode(), text.encode(), now) for digest, html, text in rows)
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO bodies VALUES (?, ?, ?, ?)", encoded)

    def collect(self, live: set[str]) -> int:
        """Delete the bodies no cache entry names (older versions of edited articles),
        except those stored within KEEP_SECONDS: a build running beside this one may
        have stored them for entries it has not written yet. Returns how many went."""
        try:
            with self.db:
                self.db.execute("CREATE TEMP TABLE IF NOT EXISTS live (digest TEXT PRIMARY KEY)")
                self.db.execute("DELETE FROM live")
                self.db.executemany("INSERT OR IGNORE INTO live VALUES (?)", ((d,) for d in live))
                gone = self.db.execute(
                    "DELETE FROM bodies WHERE stored_s < ? AND digest NOT IN (SELECT digest FROM live)",
                    (int(time.time()) - KEEP_SECONDS,),
                ).rowcount
                self.db.execute("DELETE FROM live")
        except sqlite3.Error as error:
            self.recover(error)
            return 0
        return gone


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
            raise BulletinError.single(
                f"the rendered article {self.digest} is missing from the cache",
                hint="delete .bulletin-cache/ and build again",
            )
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
