"""Run the builder one build at a time and keep what the preview needs to know.

The preview knows nothing of how a build works: it calls a `Builder` with the paths
that changed since the last good build (empty for the first build, meaning "all")
and learns only whether it succeeded. A builder must leave its output folder as it
was when it fails and replace it whole when it succeeds, as `bulletin.build.build`
does; then the served pages are always the last good ones. A faster, incremental
build drops in without any change here.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulletin.errors import BulletinError, Severity

Changes = frozenset[Path]
Builder = Callable[[Changes], Any]  # raises BulletinError when the bulletin has errors


@dataclass(frozen=True)
class State:
    """What the open pages must show: the version of the good site being served,
    and the problems of the latest build if it failed."""

    version: str
    problems: tuple[dict[str, Any], ...] = ()
    good: int = 0  # number of good builds so far

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_data(self) -> dict[str, Any]:
        return {"version": self.version, "ok": self.ok, "problems": list(self.problems)}


@dataclass(frozen=True)
class Outcome:
    """One build, for the console and for listeners (such as the PDF renderer)."""

    state: State
    changes: Changes  # since the previous good build
    seconds: float
    result: Any = None  # what the builder returned, when it succeeded
    warnings: tuple[str, ...] = ()


Listener = Callable[[Outcome], None]


def problem_data(exc: BulletinError, root: Path | None) -> tuple[dict[str, Any], ...]:
    """Problems as the overlay shows them: place, message, hint; errors first."""
    base = exc.root or root
    problems = sorted(exc.problems, key=lambda p: p.severity is not Severity.ERROR)
    return tuple(
        {
            "where": p.location(base),
            "line": p.line,
            "message": p.message,
            "hint": p.hint or "",
            "severity": p.severity.value,
        }
        for p in problems
    )


@dataclass
class _Queue:
    pending: set[Path] = field(default_factory=set)
    wanted: bool = False  # a build was asked for (the first one has no paths)
    running: bool = False


class Preview:
    """Serialises builds on one thread; a request during a build is merged into the
    next one, so a burst that arrives while building costs one more build, not many."""

    def __init__(self, builder: Builder, site: Path, *, root: Path | None = None) -> None:
        self.builder = builder
        self.site = site
        self.root = root
        self.instance = uuid.uuid4().hex[:8]  # a restarted server makes open pages reload
        self.state = State(version=f"{self.instance}.0", problems=())
        self.builds = 0
        self._unsettled: set[Path] = set()  # changes since the last good build
        self._queue = _Queue()
        self._cond = threading.Condition()
        self._listeners: list[Listener] = []
        self._thread: threading.Thread | None = None
        self._stopped = False

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- asking for builds -------------------------------------------------

    def start(self) -> None:
        """Build now (on this thread), then keep building on request in the background."""
        self.run_build(frozenset())
        self._thread = threading.Thread(target=self._loop, name="bulletin-build", daemon=True)
        self._thread.start()

    def request(self, changes: Changes) -> None:
        """Ask for a build; safe from any thread (the watcher calls it)."""
        with self._cond:
            self._queue.pending.update(changes)
            self._queue.wanted = True
            self._cond.notify_all()

    def stop(self, wait: float = 0.2) -> None:
        """No more builds; requests waiting for one are let go. The build thread is a
        daemon and is given only `wait` seconds: a long build must not hold up Ctrl-C."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None and wait > 0:
            self._thread.join(timeout=wait)

    @property
    def running(self) -> bool:
        """A build is under way right now (it may outlive `stop()`)."""
        with self._cond:
            return self._queue.running

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._queue.running or self._queue.wanted

    def wait_idle(self, timeout: float) -> bool:
        """Block until no build is running or asked for; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._queue.running or self._queue.wanted) and not self._stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue.wanted and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                changes = frozenset(self._queue.pending)
                self._queue.pending.clear()
                self._queue.wanted = False
                self._queue.running = True
            try:
                self.run_build(changes)
            finally:
                with self._cond:
                    self._queue.running = False
                    self._cond.notify_all()

    # -- one build ---------------------------------------------------------

    def run_build(self, changes: Changes) -> Outcome:
        """Call the builder once and announce the outcome; never raises."""
        self._unsettled.update(changes)
        since_good = frozenset(self._unsettled)
        started = time.perf_counter()
        result: Any = None
        warnings: tuple[str, ...] = ()
        try:
            result = self.builder(since_good)
        except BulletinError as exc:
            problems = problem_data(exc, self.root)
        except Exception as exc:  # a bug must not stop the server: show it like any problem
            traceback.print_exc()
            problems = (
                {
                    "where": "",
                    "line": None,
                    "message": f"the build crashed: {type(exc).__name__}: {exc}",
                    "hint": "this is a bug in bulletin or in a theme; the traceback is in the terminal",
                    "severity": "error",
                },
            )
        else:
            problems = ()
            warnings = tuple(
                w.format(self.root) for w in getattr(result, "warnings", ()) if hasattr(w, "format")
            )
        seconds = time.perf_counter() - started
        self.builds += 1
        if problems:
            state = State(self.state.version, problems, self.state.good)
        else:
            good = self.state.good + 1
            state = State(f"{self.instance}.{good}", (), good)
            self._unsettled.clear()
        self.state = state
        outcome = Outcome(state, since_good, seconds, result, warnings)
        for listener in self._listeners:
            try:
                listener(outcome)
            except Exception:
                traceback.print_exc()
        return outcome
