"""A persistent cache of parsed files, so a rebuild reads only what changed.

An entry is found by the file's size and modification time (like git's index), and
failing that by the hash of its bytes. It keeps the parsed result (an Article with
its front matter, whose rendered body sits in the body store; or an issue.yaml
document) and the problems parsing reported, which are reported again on every
build. Images are checked on every build, since they can vanish while the article
stays the same. The cache is an optimisation only: a missing, stale, truncated or
corrupt cache file is ignored and the files are parsed again.

Entries are stored without their paths and get the caller's Path when used:
rebuilding thousands of Path objects was most of the time a warm load took.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulletin import __version__
from bulletin.errors import Problem, Report
from bulletin.load.bodies import FILE as BODIES
from bulletin.load.bodies import BodyStore
from bulletin.load.yamlfile import YamlDoc, read_yaml
from bulletin.model import Article, Config
from bulletin.parallel import run_split

FILE = "parsed.pickle"
PARALLEL_FILES = 200  # fewer files to parse are not worth starting workers
_KINDS: dict[str, type] = {"article": Article, "yaml": YamlDoc}


@dataclass(frozen=True)
class Entry:
    size: int
    mtime_ns: int
    digest: str  # sha1 of the file's bytes
    parsed: Any  # Article | YamlDoc | None (None: the file had errors), or its stored form
    problems: tuple[Problem, ...]


class ParseCache:
    """Kept on disk in `folder` (or only in memory without one); a long-lived builder
    keeps one across builds, so a rebuild does not even read it again."""

    def __init__(self, folder: Path | None, *, save: bool = True) -> None:
        self.file = folder / FILE if folder else None
        self.saving = save
        self.bodies = BodyStore(folder / BODIES) if folder else None
        self.salt: str | None = None
        self.entries: dict[str, Entry] = {}

    def begin(self, config: Config) -> None:
        """Start a build: entries made under other settings do not count."""
        # what else changes how a file parses: the tool and the model's shape, raw
        # HTML, the time zone
        shape = ",".join(f.name for f in dataclasses.fields(Article))
        salt = f"{__version__}|{shape}|{config.allow_html}|{config.timezone.key}"
        if salt != self.salt:
            self.salt = salt
            self.entries = self._read()
        self.used: dict[str, Entry] = {}
        self.new_bodies: list[tuple[str, str, str]] = []
        self._checked: dict[str, Entry] = {}  # looked at by prefetch in this build
        self.changed = False

    def article(self, path: Path, issue_id: str, config: Config, report: Report):
        """load_article through the cache; a changed or new file is parsed."""
        from bulletin.load.articles import images_missing, load_article

        entry = self._checked.pop(str(path), None) or self._fresh(path)
        if entry is None or (entry.parsed and images_missing(entry.parsed)):
            own = Report()
            entry = self._remember(path, load_article(path, issue_id, config, own), own)
        return self._use(path, entry, report)

    def prefetch(self, paths: list[Path], config: Config) -> None:
        """Parse ahead, on all cores, the files among `paths` that changed; the loader
        then finds them here. A cold build of a large archive spends most of its time
        rendering Markdown, and one file does not depend on another."""
        missing = []
        for path in paths:
            entry = self._fresh(path)
            if entry is None:
                missing.append(path)
            else:  # checked now: the loader takes it without a second look
                self._checked[str(path)] = entry
        for path, article, body, problems, stat in run_split(
            functools.partial(_parse, config=config), missing, minimum=PARALLEL_FILES
        ):
            if article is not None:  # bodies travel apart: a Body pickles as its digest
                article.body._html, article.body._text = body
            self._checked[str(path)] = self._remember(path, article, Report(list(problems)), stat)

    def yaml(self, path: Path, report: Report, what: str) -> YamlDoc | None:
        """A whole YAML file (issue.yaml) through the cache."""
        entry = self._fresh(path)
        if entry is None:
            own = Report()
            entry = self._remember(path, read_yaml(path, own, what), own)
        return self._use(path, entry, report)

    def knows(self, path: Path) -> bool:
        """Whether prefetch found the file (so it exists, and its entry is ready)."""
        return str(path) in self._checked

    def _fresh(self, path: Path) -> Entry | None:
        """The entry of an unchanged file: same size and time, or else same bytes."""
        entry = self.entries.get(str(path))
        if entry is None:
            return None
        stat = path.stat()
        if (entry.size, entry.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            if hashlib.sha1(path.read_bytes()).hexdigest() != entry.digest:
                return None
            self.changed = True  # same content, new time: remember the new stat
            entry = dataclasses.replace(entry, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        if isinstance(entry.parsed, tuple):
            entry = dataclasses.replace(entry, parsed=self._attach(entry.parsed, path))
        return entry

    def _remember(self, path: Path, parsed, report: Report, known=None) -> Entry:
        """An entry for a file just parsed; `known` is (size, mtime_ns, digest) when the
        parser already read them."""
        size, mtime_ns, digest = known or _identity(path)
        self.changed = True
        if isinstance(parsed, Article) and self.bodies is not None:
            body = parsed.body
            self.new_bodies.append((body.digest, body.html, body.text))
            body.store = self.bodies
        return Entry(size, mtime_ns, digest, parsed, tuple(report.problems))

    def _use(self, path: Path, entry: Entry, report: Report):
        self.entries[str(path)] = self.used[str(path)] = entry
        for problem in entry.problems:
            report.add(problem)
        return entry.parsed

    def _attach(self, stored: tuple[str, dict], path: Path):
        kind, state = stored
        parsed = object.__new__(_KINDS[kind])
        parsed.__dict__.update(state, path=path)
        if isinstance(parsed, Article):
            parsed.body.store = self.bodies
        return parsed

    @staticmethod
    def _detach(parsed) -> tuple[str, dict] | None:
        if parsed is None or isinstance(parsed, tuple):
            return parsed
        kind = next(k for k, cls in _KINDS.items() if isinstance(parsed, cls))
        state = {k: v for k, v in parsed.__dict__.items() if k != "path"}
        if kind == "yaml":
            state["_lines"] = None
        return kind, state

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
        return {
            key: entry
            for key, entry in entries.items()
            if not entry.parsed
            or entry.parsed[0] != "article"
            or entry.parsed[1]["body"].digest in stored
        }

    def save(self) -> None:
        """Keep the entries of this build's files (deleted files drop out)."""
        if self.file is None or not (self.changed or self.used.keys() != self.entries.keys()):
            return
        if not self.saving:  # kept in memory by a long-lived builder
            if self.new_bodies and self.bodies is not None:
                self.bodies.put(self.new_bodies)  # other processes read bodies by digest
                self.new_bodies = []
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        if self.new_bodies and self.bodies is not None:
            self.bodies.put(self.new_bodies)  # bodies first: an entry never names a missing one
            self.new_bodies = []
        stored = {
            key: dataclasses.replace(entry, parsed=self._detach(entry.parsed))
            for key, entry in self.used.items()
        }
        handle, temporary = tempfile.mkstemp(dir=self.file.parent, prefix=f".{FILE}.")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump((self.salt, stored), stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, self.file)


def _identity(path: Path) -> tuple[int, int, str]:
    """Size, modification time and content hash of a file (stat first: a file saved
    while it is read then looks changed next time, never the other way round)."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, hashlib.sha1(path.read_bytes()).hexdigest()


def _parse(paths: list[Path], config: Config) -> list[tuple]:
    """Parse articles (in a worker process): each with its body's html and text."""
    from bulletin.load.articles import load_article

    parsed = []
    for path in paths:
        identity = _identity(path)
        report = Report()
        article = load_article(path, path.parent.name, config, report)
        body = (article.body.html, article.body.text) if article else None
        parsed.append((path, article, body, tuple(report.problems), identity))
    return parsed
