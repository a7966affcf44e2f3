"""Watch a bulletin's sources with watchdog and report each burst of changes once.

Only what a build reads is watched: `bulletin.yaml` (the project folder itself is
watched without recursion), `issues/`, `themes/` and the built-in themes. Editors'
temp, swap and backup files and anything under the preview folder are ignored, so
a build that writes its output or reads its sources never triggers another one.
Events are collected until the file system has been quiet for a moment: an atomic
save (temp file renamed over the original), a formatter or a `git checkout` is one
burst and so one rebuild.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

Changes = frozenset[Path]

CONFIG_FILE = "bulletin.yaml"
SOURCE_DIRS = ("issues", "themes")

# Events that mean a file's content, name or existence changed. Not "opened" or
# "closed_no_write": a build reads every source, and must not cause another build.
_CHANGE_EVENTS = {"created", "deleted", "modified", "moved", "closed", "attrib"}

_JUNK_PREFIXES = (".", "~", "#")  # hidden files, vim's .x.swp, emacs' .#x and #x#, ~$x (Office)
_JUNK_SUFFIXES = (
    "~",  # vim, emacs and gedit backups
    ".swp",
    ".swo",
    ".swx",  # vim swap files
    ".tmp",
    ".temp",
    ".part",
    ".crdownload",
    ".crswap",  # Chrome's file system access API
    ".bak",
    ".orig",
    ".rej",
    ".kate-swp",
)
_JUNK_NAMES = {"4913", "Thumbs.db", "desktop.ini"}  # vim's write test file; OS litter
_JUNK_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".idea", ".vscode"}


def is_junk(path: Path) -> bool:
    """An editor's or tool's scratch file that no build reads."""
    name = path.name
    return (
        name.startswith(_JUNK_PREFIXES)
        or name.endswith(_JUNK_SUFFIXES)
        or name in _JUNK_NAMES
        or "___jb_" in name  # JetBrains' safe write: x___jb_tmp___, x___jb_old___
        or any(part in _JUNK_DIRS for part in path.parts)
    )


class Sources:
    """Which paths a build of the bulletin at `root` reads, and which it never does."""

    def __init__(self, root: Path, extra: Iterable[Path] = (), ignore: Iterable[Path] = ()):
        self.root = root.resolve()
        self.ignore = tuple(p.resolve() for p in ignore)
        folders = [self.root / name for name in SOURCE_DIRS]
        folders += [p.resolve() for p in extra]
        # a folder inside another watched folder is already covered
        self.folders = tuple(
            f
            for f in dict.fromkeys(folders)
            if not any(f != o and f.is_relative_to(o) for o in folders)
        )

    def relevant(self, path: Path) -> bool:
        if any(path.is_relative_to(i) for i in self.ignore):
            return False
        if path.parent == self.root:
            return path.name == CONFIG_FILE or path.name in SOURCE_DIRS
        folder = next((f for f in self.folders if path.is_relative_to(f)), None)
        return folder is not None and not is_junk(path.relative_to(folder))


class Debouncer:
    """Gathers paths and hands them over once no new one came for `quiet` seconds,
    or `longest` seconds after the first one (so a never-ending stream still builds)."""

    def __init__(
        self,
        fire: Callable[[Changes], None],
        *,
        quiet: float = 0.05,
        longest: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fire = fire
        self.quiet = quiet
        self.longest = longest
        self.clock = clock
        self.pending: set[Path] = set()
        self.first = self.last = 0.0
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="bulletin-debounce", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, paths: Iterable[Path]) -> None:
        with self._wake:
            now = self.clock()
            if not self.pending:
                self.first = now
            self.pending.update(paths)
            self.last = now
            self._wake.notify()

    def due_in(self, now: float) -> float | None:
        """Seconds until the pending burst is handed over; None when nothing is pending."""
        if not self.pending:
            return None
        return max(0.0, min(self.last + self.quiet, self.first + self.longest) - now)

    def take(self) -> Changes | None:
        """The pending burst if it is due now, else None (called under the lock)."""
        wait = self.due_in(self.clock())
        if wait is None or wait > 0:
            return None
        burst = frozenset(self.pending)
        self.pending.clear()
        return burst

    def _run(self) -> None:
        while True:
            with self._wake:
                burst = None
                while not self._closed and burst is None:
                    burst = self.take()
                    if burst is None:
                        self._wake.wait(self.due_in(self.clock()))
                if self._closed:
                    return
            self.fire(burst)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGE_EVENTS:
            return
        if event.is_directory and event.event_type in {"modified", "closed", "attrib"}:
            return  # a folder "changes" whenever a file in it does: the file's event says more
        paths = [Path(_text(event.src_path))]
        if event.dest_path:
            paths.append(Path(_text(event.dest_path)))
        self.watcher.saw(paths, folder=event.is_directory)


class Watcher:
    """Watches the sources of the bulletin at `root` and calls `on_change` with each
    burst of changed paths, from a background thread."""

    def __init__(
        self,
        sources: Sources,
        on_change: Callable[[Changes], None],
        *,
        poll: bool = False,
        poll_interval: float = 0.5,
        quiet: float = 0.05,
        longest: float = 2.0,
    ) -> None:
        self.sources = sources
        self.observer: BaseObserver = PollingObserver(timeout=poll_interval) if poll else Observer()
        self.debouncer = Debouncer(on_change, quiet=quiet, longest=longest)
        self._handler = _Handler(self)
        self._watches: dict[Path, ObservedWatch] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.debouncer.start()
        self._watch(self.sources.root, recursive=False)
        for folder in self.sources.folders:
            self._watch(folder, recursive=True)
        self.observer.start()

    def stop(self) -> None:
        self.debouncer.close()
        self.observer.stop()
        self.observer.join(timeout=0.5)  # its threads are daemons: never hold up an exit

    def saw(self, paths: list[Path], *, folder: bool = False) -> None:
        relevant = [p for p in paths if self.sources.relevant(p)]
        if folder:
            # issues/ or themes/ made after the start (or made anew): watch it from now on
            for path in relevant:
                if path in self.sources.folders and path.is_dir():
                    self._watch(path, recursive=True, again=True)
        if relevant:
            self.debouncer.add(relevant)

    def _watch(self, folder: Path, *, recursive: bool, again: bool = False) -> None:
        with self._lock:
            old = self._watches.pop(folder, None)
            if old is not None and again:
                with contextlib.suppress(KeyError):
                    self.observer.unschedule(old)
            elif old is not None:
                self._watches[folder] = old
                return
            if folder.is_dir():
                self._watches[folder] = self.observer.schedule(
                    self._handler, str(folder), recursive=recursive
                )


def _text(path: bytes | str) -> str:
    return path.decode() if isinstance(path, bytes) else path
