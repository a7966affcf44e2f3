"""A persistent cache of parsed articles, so a rebuild reads only what changed.

An entry is found by the file's size and modification time (like git's index), and
failing that by the hash of its bytes; it keeps the parsed Article (front matter and
rendered Markdown) and the problems parsing reported, which are reported again on
every build. Images are checked on every build, since they can vanish without the
article changing. The cache is an optimisation only: a missing, stale, truncated or
corrupt cache file is ignored and the articles are parsed again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bulletin import __version__
from bulletin.errors import Problem, Report
from bulletin.load.bodies import FILE as BODIES
from bulletin.load.bodies import BodyStore
from bulletin.model import Article, Config

FILE = "articles.pickle"


@dataclass(frozen=True)
class Entry:
    size: int
    mtime_ns: int
    digest: str  # sha1 of the file's bytes
    article: Article | None  # None when the file had errors
    problems: tuple[Problem, ...]


class ParseCache:
    def __init__(self, folder: Path | None, config: Config) -> None:
        self.file = folder / FILE if folder else None
        self.bodies = BodyStore(folder / BODIES) if folder else None
        # what else changes how an article parses: the tool and the model's shape,
        # raw HTML, the time zone
        shape = ",".join(f.name for f in dataclasses.fields(Article))
        self.salt = f"{__version__}|{shape}|{config.allow_html}|{config.timezone.key}"
        self.entries: dict[str, Entry] = self._read()
        self.used: dict[str, Entry] = {}
        self.new_bodies: list[tuple[str, str, str]] = []
        self.changed = False

    def _read(self) -> dict[str, Entry]:
        if self.file is None or self.bodies is None:
            return {}
        try:
            with self.file.open("rb") as stream:
                salt, entries = pickle.load(stream)
            stored = self.bodies.digests()
        except Exception:  # missing, truncated, corrupt, from another version: afresh
            self.bodies.reset()
            return {}
        if salt != self.salt:
            return {}
        kept = {}
        for key, entry in entries.items():
            if entry.article is None or entry.article.body.digest in stored:
                if entry.article is not None:
                    entry.article.body.store = self.bodies
                kept[key] = entry
        return kept

    def lookup(self, path: Path) -> Entry | None:
        """The entry for an unchanged file, checked by stat and else by content hash."""
        key = str(path)
        entry = self.entries.get(key)
        if entry is None:
            return None
        stat = path.stat()
        if (entry.size, entry.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            return entry
        if hashlib.sha1(path.read_bytes()).hexdigest() == entry.digest:
            entry = Entry(
                stat.st_size, stat.st_mtime_ns, entry.digest, entry.article, entry.problems
            )
            self.entries[key] = entry
            self.changed = True
            return entry
        return None

    def store(self, path: Path, article: Article | None, problems: list[Problem]) -> Entry:
        data = path.read_bytes()
        stat = path.stat()
        entry = Entry(
            stat.st_size, stat.st_mtime_ns, hashlib.sha1(data).hexdigest(), article, tuple(problems)
        )
        self.entries[str(path)] = entry
        self.changed = True
        if article is not None and self.bodies is not None:
            body = article.body
            self.new_bodies.append((body.digest, body.html, body.text))
            body.store = self.bodies
        return entry

    def digest(self, path: Path) -> str:
        return self.used[str(path)].digest

    def save(self) -> None:
        """Keep the entries of this build's files (deleted files drop out)."""
        if self.file is None or not (self.changed or self.used.keys() != self.entries.keys()):
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        if self.new_bodies and self.bodies is not None:
            self.bodies.put(self.new_bodies)  # bodies first: an entry never names a missing one
            self.new_bodies = []
        handle, temporary = tempfile.mkstemp(dir=self.file.parent, prefix=f".{FILE}.")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump((self.salt, self.used), stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, self.file)


def load_cached(
    path: Path, issue_id: str, config: Config, report: Report, cache: ParseCache | None
):
    """load_article through the cache: a hit replays the problems parsing reported."""
    from bulletin.load.articles import images_missing, load_article

    if cache is None:
        return load_article(path, issue_id, config, report)
    entry = cache.lookup(path)
    if entry is None or (entry.article and images_missing(entry.article)):
        own = Report()
        article = load_article(path, issue_id, config, own)
        entry = cache.store(path, article, own.problems)
    for problem in entry.problems:
        report.add(problem)
    cache.used[str(path)] = entry
    return entry.article
