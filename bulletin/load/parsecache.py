"""A persistent cache of what loading found, so a rebuild reads only what changed.

Two levels. An issue folder whose files (names, sizes and modification times, like
git's index) are as they were gives back the whole Issue it was loaded into, with the
problems loading reported, without opening one of its files. Inside a folder that
changed, each file is found by its size and time, and failing that by the hash of
its bytes, and only new or edited files are parsed again. Articles are kept light:
their rendered bodies sit in the body store and are fetched when a page needs them.

Entries live in one SQLite file and a build writes only the rows of what changed,
so an edit in a large archive writes a few rows, not the whole cache. The cache is an
optimisation only: a missing, stale, truncated or corrupt cache file is ignored and
started afresh, and the files are parsed again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from bulletin import __version__
from bulletin.errors import Problem, Report
from bulletin.load.bodies import FILE as BODIES
from bulletin.load.bodies import Body, BodyStore
from bulletin.load.cachestore import FILE, CacheStore, Entry, IssueEntry, load_record
from bulletin.load.yamlfile import YamlDoc, read_yaml
from bulletin.model import Article, Config, Correction, Issue, Section
from bulletin.parallel import run_split
from bulletin.uptodate import RACY_SECONDS, Subtree, subtree_digest

_STORED = (Article, Issue, Section, Correction, Problem)  # their shapes key the cache
PARALLEL_FILES = 200  # fewer files to parse are not worth starting workers
GARBAGE_ALLOWED = 200  # unnamed bodies kept besides a quarter of the named ones
_RACY = "racy"  # the fingerprint of a folder with a file modified just now: never matches


class ParseCache:
    """Kept on disk in `folder` (or only in memory without one); a long-lived builder
    keeps one across builds, so a rebuild does not even read it again."""

    def __init__(self, folder: Path | None, *, save: bool = True) -> None:
        self.store = CacheStore(folder / FILE) if folder else None
        self.saving = save
        self.bodies = BodyStore(folder / BODIES) if folder else None
        self.salt: str | None = None
        self.next_walked: dict[str, Subtree] = {}  # folders the caller has just walked
        self.files: dict[str, Entry] = {}  # read or parsed, by path
        self.issues: dict[str, IssueEntry] = {}

    def begin(self, config: Config) -> None:
        """Start a build: entries made under other settings do not count."""
        # what else changes how a file parses: the tool and the model's shape, raw
        # HTML, the time zone
        shape = ",".join(f.name for kind in _STORED for f in dataclasses.fields(kind))
        salt = f"{__version__}|{shape}|{config.allow_html}|{config.timezone.key}"
        replaced = [f.refresh() for f in (self.store, self.bodies) if f is not None]
        if salt != self.salt or any(replaced):  # other settings, or a cache deleted meanwhile
            self.salt = salt
            self.files = {}
            self.issues = self._read_issues()
        elif self.bodies is not None and self.bodies.changed_elsewhere():
            self._forget_collected()
        self.issues_dir = str(config.issues_dir)
        self.fingerprints: dict[str, str] = {}
        self.walked, self.next_walked = self.next_walked, {}
        self.new_files: dict[str, Entry] = {}
        self.new_issues: dict[str, IssueEntry] = {}
        self.new_bodies: list[Body] = []  # parsed in this build, not yet stored
        self._checked: dict[str, Entry] = {}  # looked at by prefetch in this build

    def _forget_collected(self) -> None:
        """Another build may have collected bodies that entries kept in memory since an
        earlier build name (an article edited there and back): those entries go."""
        assert self.bodies is not None
        self.stored = self.bodies.digests()
        self.files = {
            path: entry
            for path, entry in self.files.items()
            if not isinstance(entry.parsed, Article) or self._bodies_stored([entry.parsed])
        }
        self.issues = {
            folder: entry
            for folder, entry in self.issues.items()
            if not isinstance(entry.issue, Issue) or self._bodies_stored(entry.issue.articles)
        }

    def walked_just_now(self, folders: dict[str, Subtree]) -> None:
        """The issue folders' digests, from a walk the caller has just made: the next
        build takes them instead of walking the folders again."""
        self.next_walked = {os.path.abspath(path): digest for path, digest in folders.items()}

    def changed(self, folders: list[Path]) -> list[Path]:
        """The issue folders whose files are not as they were when last loaded."""
        return [f for f in folders if self._known_issue(f) is None]

    def issue(self, folder: Path, load: Callable[[Report], Issue | None], report: Report):
        """load(report) -> the folder's Issue, run only when the folder changed."""
        entry = self._known_issue(folder)
        if entry is None:
            own = Report()
            issue = load(own)
            entry = IssueEntry(self._fingerprint(folder), issue, tuple(own.problems))
            self.issues[str(folder)] = self.new_issues[str(folder)] = entry
        for problem in entry.problems:
            report.add(problem)
        return entry.issue

    def article(self, path: Path, issue_id: str, config: Config, report: Report):
        """load_article through the cache; a changed or new file is parsed."""
        from bulletin.load.articles import images_missing, load_article

        entry = self._checked.pop(str(path), None) or self._fresh(path)
        if entry is None or (entry.parsed and images_missing(entry.parsed)):
            own = Report()
            identity, raw = _read(path)
            article = load_article(path, issue_id, config, own, raw)
            entry = self._remember(path, article, own, identity)
        return self._use(entry, report)

    def prefetch(self, paths: list[Path], config: Config) -> None:
        """Parse ahead, on all cores, the files among `paths` (articles and issue.yaml
        files) that changed; the loader then finds them here. A cold build of a large
        archive spends most of its time rendering Markdown, and one file does not
        depend on another."""
        missing = []
        for path in paths:
            entry = self._fresh(path)
            if entry is None:
                missing.append(path)
            else:  # checked now: the loader takes it without a second look
                self._checked[str(path)] = entry
        store = self.bodies.path if self.bodies is not None else None
        for path, parsed, body, problems, stat in run_split(
            functools.partial(_parse, config=config, store=store), missing, minimum=PARALLEL_FILES
        ):
            if isinstance(parsed, Article) and body is None:  # the worker stored it
                self.stored.add(parsed.body.digest)
            elif isinstance(parsed, Article):  # bodies travel apart: a Body pickles as its digest
                parsed.body._html, parsed.body._text = body
            self._checked[str(path)] = self._remember(path, parsed, Report(list(problems)), stat)

    def yaml(self, path: Path, report: Report, what: str) -> YamlDoc | None:
        """A whole YAML file (issue.yaml) through the cache."""
        entry = self._checked.pop(str(path), None) or self._fresh(path)
        if entry is None:
            own = Report()
            identity, raw = _read(path)
            entry = self._remember(path, read_yaml(path, own, what, raw), own, identity)
        return self._use(entry, report)

    def knows(self, path: Path) -> bool:
        """Whether prefetch found the file (so it exists, and its entry is ready)."""
        return str(path) in self._checked

    def save(self, folders: list[Path], *, forget_others: bool = True) -> None:
        """Write the rows of what this build parsed; forget folders no longer there
        (`folders` being all there are, unless `forget_others` is false)."""
        if self.new_bodies and self.bodies is not None:
            # bodies first: an entry never names a missing one
            self.bodies.put([(b.digest, b.html, b.text) for b in self.new_bodies])
            self.stored.update(b.digest for b in self.new_bodies)
            for body in self.new_bodies:  # fetched again by the few pages that show it
                body.release()
            self.new_bodies = []
        if self.store is None or not self.saving:  # in memory only (a long-lived builder)
            self.new_files, self.new_issues = {}, {}
            return
        present = [str(f) for f in folders] if forget_others else None
        self.store.write(self.salt, self.new_files, self.new_issues, present, self._issue_folder)
        self.new_files, self.new_issues = {}, {}

    def _issue_folder(self, path: str) -> str:
        """The issue folder a file belongs to, also one in a subfolder of it."""
        prefix = self.issues_dir + os.sep
        if path.startswith(prefix):  # always, as the loader makes paths (relpath: 20 µs)
            return prefix + path[len(prefix) :].split(os.sep, 1)[0]
        below = os.path.relpath(path, self.issues_dir).split(os.sep)[0]
        return os.path.join(self.issues_dir, below)

    def collect_bodies(self) -> None:
        """Every edit stores a new body and leaves the old one unnamed: once a quarter
        more bodies are stored than entries name, delete the unnamed ones. Only when
        no other build runs (the builder sees to it: see cachelock)."""
        if self.store is None or self.bodies is None or not self.saving:
            return
        named = self.store.named_bodies()
        if len(self.stored) <= named + named // 4 + GARBAGE_ALLOWED:
            return
        if self.bodies.collect(self.store.live_bodies()):
            self.stored = self.bodies.digests()

    def _known_issue(self, folder: Path) -> IssueEntry | None:
        entry = self.issues.get(str(folder))
        fingerprint = self._fingerprint(folder)
        if entry is None or entry.fingerprint != fingerprint or fingerprint == _RACY:
            return None
        if isinstance(entry.issue, bytes):  # read from the store: made whole once, on use
            entry = self._thaw(folder, entry)
        return entry

    def _fingerprint(self, folder: Path) -> str:
        key = str(folder)
        if key not in self.fingerprints:
            subtree = self.walked.get(os.path.abspath(key)) or subtree_digest(key)
            # a file changed within the racy window may change again unseen, within
            # the same size and timestamp: such a folder is never taken as unchanged
            self.fingerprints[key] = _RACY if _racy(subtree.newest_ns) else subtree.digest
        return self.fingerprints[key]

    def _fresh(self, path: Path) -> Entry | None:
        """The entry of an unchanged file: same size and time, or else same bytes."""
        entry = self.files.get(str(path))
        if entry is None and self.store is not None:
            entry = self.store.file(str(path), path)
            if (
                entry
                and isinstance(entry.parsed, Article)
                and not self._bodies_stored([entry.parsed])
            ):
                entry = None
        if entry is None:
            return None
        stat = path.stat()
        if (entry.size, entry.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            if hashlib.sha1(path.read_bytes()).hexdigest() != entry.digest:
                return None
            entry = dataclasses.replace(
                entry, size=stat.st_size, mtime_ns=_settled(stat.st_mtime_ns)
            )
            self.new_files[str(path)] = entry  # same content, new time: remember the stat
        if isinstance(entry.parsed, Article) and self.bodies is not None:
            entry.parsed.body.store = self.bodies
        self.files[str(path)] = entry
        return entry

    def _remember(self, path: Path, parsed, report: Report, identity: tuple) -> Entry:
        """An entry for a file just parsed from the bytes `identity` (size, mtime_ns,
        digest) describes."""
        size, mtime_ns, digest = identity
        if isinstance(parsed, Article) and self.bodies is not None:
            body = parsed.body
            if body.held:
                self.new_bodies.append(body)
            body.store = self.bodies
        entry = Entry(size, _settled(mtime_ns), digest, parsed, tuple(report.problems))
        self.files[str(path)] = self.new_files[str(path)] = entry
        return entry

    @staticmethod
    def _use(entry: Entry, report: Report):
        for problem in entry.problems:
            report.add(problem)
        return entry.parsed

    def _read_issues(self) -> dict[str, IssueEntry]:
        """The stored issue records (still pickled), and the digests of the stored
        bodies: an entry whose body is missing counts as not cached."""
        self.stored: set[str] = set()
        if self.store is None or self.bodies is None:
            return {}
        try:
            self.bodies.changed_elsewhere()  # from here on: what changes it elsewhere
            self.stored = self.bodies.digests()
        except sqlite3.Error as error:
            self.bodies.recover(error)
        if not self.store.open(self.salt):
            self.bodies.reset()  # a cache started afresh: its bodies go with it
            self.stored = set()
        return self.store.issues()

    def _bodies_stored(self, articles) -> bool:
        return self.bodies is None or all(a.body.digest in self.stored for a in articles)

    def _thaw(self, folder: Path, entry: IssueEntry) -> IssueEntry | None:
        try:
            issue, problems = load_record(entry.issue, folder)
        except Exception:  # damaged: loaded afresh
            issue = None
        if issue is None or not self._bodies_stored(issue.articles):
            self.issues.pop(str(folder), None)
            return None
        for article in issue.articles:
            article.body.store = self.bodies
        entry = IssueEntry(entry.fingerprint, issue, problems)
        self.issues[str(folder)] = entry
        return entry


def _racy(mtime_ns: int) -> bool:
    """Modified within the racy window: the file could change again within the same
    size and timestamp, so its time proves nothing (as with git's racily clean index)."""
    return mtime_ns >= time.time_ns() - RACY_SECONDS * 1_000_000_000


def _settled(mtime_ns: int) -> int:
    """The modification time to trust next time; -1 for a racy file, whose content is
    then compared by hash."""
    return -1 if _racy(mtime_ns) else mtime_ns


def _read(path: Path) -> tuple[tuple[int, int, str], bytes | None]:
    """A file's size, modification time and content hash, and its bytes, read once (stat
    first: a file saved while it is read then looks changed next time, never the other
    way round). Unreadable: an identity that matches nothing, and None for the parser
    to report."""
    try:
        stat = path.stat()
        raw = path.read_bytes()
    except OSError:
        return (-1, -1, ""), None
    return (stat.st_size, stat.st_mtime_ns, hashlib.sha1(raw).hexdigest()), raw


def _parse(paths: list[Path], config: Config, store: Path | None) -> list[tuple]:
    """Parse articles and YAML files (in a worker process). With a body store, the
    worker stores the bodies itself and sends back only the front matter (body None):
    the bodies of a large archive never pass through, or stay in, the memory of the
    main process."""
    from bulletin.load.articles import load_article

    parsed, bodies = [], []
    for path in paths:
        identity, raw = _read(path)
        report = Report()
        if path.suffix != ".md":
            doc = read_yaml(path, report, path.name, raw)
            parsed.append((path, doc, None, tuple(report.problems), identity))
            continue
        article = load_article(path, path.parent.name, config, report, raw)
        body = None
        if article is not None and store is not None:
            bodies.append(article.body)
        elif article is not None:
            body = (article.body.html, article.body.text)
        parsed.append((path, article, body, tuple(report.problems), identity))
    if bodies:
        kept = BodyStore(store)
        kept.put([(b.digest, b.html, b.text) for b in bodies])
        for body in bodies:
            body.store = kept
            body.release()
    return parsed
