"""`bulletin publish --watch`: stay running, sleep until the next publish time, publish.

`watch()` is the loop, with the clock, the sleep and the stop signal passed in, so a
test drives it with a fake clock and no real sleeping. `watch_forever()` wires it to
the real clock, to file changes (an editor moving a publish time wakes it up at once)
and to SIGTERM/SIGINT, which end it cleanly between two runs.

Sleeps are capped at a few minutes, so a clock that jumps (NTP, a suspended machine)
is noticed; a failed run is retried after 30 s, 1 min, 2 min … up to 30 min.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from bulletin.errors import BulletinError
from bulletin.load.config import CONFIG_FILE
from bulletin.publish.publisher import Outcome, publish
from bulletin.publish.times import local

Clock = Callable[[], datetime]
Wait = Callable[[float], None]  # returns after the seconds, or earlier when woken
Say = Callable[[str], None]

MAX_SLEEP = 300.0
FIRST_RETRY = 30.0
MAX_RETRY = 1800.0
BUSY_RETRY = 15.0  # another run (say, from cron) holds the lock


def backoff(failures: int) -> float:
    """Seconds before retry number `failures`: 30, 60, 120, … at most 1800."""
    return min(FIRST_RETRY * 2 ** (failures - 1), MAX_RETRY)


def watch(
    root: Path,
    *,
    clock: Clock,
    wait: Wait,
    stop: threading.Event,
    say: Say,
    publish_at: Callable[[Path, datetime], Outcome] = publish,
) -> None:
    """Publish what is due, sleep until the next publish time or retry, again, until
    `stop` is set."""
    failures = 0
    while not stop.is_set():
        now = clock()
        next_due, retry = None, None
        try:
            outcome = publish_at(root, now)
        except BulletinError as exc:
            failures += 1
            retry = backoff(failures)
            say(f"{_stamp(now)} cannot publish:\n{exc.format_message()}")
        else:
            next_due = outcome.next_due
            if not outcome.idle:
                for problem in outcome.warnings:
                    say(problem.format(root))
            for line in outcome.lines():
                say(f"{_stamp(outcome.now)} {line}")
            if outcome.busy is not None:
                retry = BUSY_RETRY
            elif not outcome.ok:
                failures += 1
                retry = backoff(failures)
            else:
                failures = 0
        if stop.is_set():
            break
        seconds = _seconds(clock(), next_due, retry)
        say(_waiting(clock(), seconds, next_due, retry, failures))
        wait(seconds)
    say("stopped")


def _seconds(now: datetime, next_due: datetime | None, retry: float | None) -> float:
    candidates = [MAX_SLEEP]
    if next_due is not None:
        candidates.append((next_due - _aware(now, next_due)).total_seconds())
    if retry is not None:
        candidates.append(retry)
    return max(0.0, min(candidates))


def _waiting(
    now: datetime, seconds: float, next_due: datetime | None, retry: float | None, failures: int
) -> str:
    if retry is not None and seconds == retry:
        what = f"retry {failures} in {retry:g} s"
    elif next_due is not None and _aware(now, next_due) + timedelta(seconds=seconds) >= next_due:
        what = f"next publish time {local(next_due, next_due.tzinfo or UTC)}"
    else:
        what = "a look at the clock"
    return f"{_stamp(now)} sleeping {seconds:g} s until {what}"


def _aware(now: datetime, like: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=like.tzinfo)


def _stamp(now: datetime) -> str:
    return f"[{now:%Y-%m-%d %H:%M:%S}]"


def offset_clock(start: datetime | None) -> Clock:
    """The real clock, or one that starts at `start` (--now) and runs at real speed."""
    if start is None:
        return lambda: datetime.now(UTC)
    begun = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - begun)


class _Wake(FileSystemEventHandler):
    """Wakes the loop when a source file of the bulletin changes."""

    def __init__(self, root: Path, wake: threading.Event) -> None:
        self.root = root.resolve()
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = Path(str(raw)) if raw else None
            if path is not None and self._relevant(path):
                self.wake.set()
                return

    def _relevant(self, path: Path) -> bool:
        try:
            relative = path.resolve().relative_to(self.root)
        except ValueError:
            return False
        first = relative.parts[0] if relative.parts else ""
        if first in ("issues", "themes"):
            return True
        return len(relative.parts) == 1 and (first == CONFIG_FILE or first.endswith(".txt"))


def watch_forever(root: Path, start: datetime | None, say: Say) -> None:
    """Run `watch` on the real clock until SIGTERM or SIGINT."""
    stop, wake = threading.Event(), threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()
        wake.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    observer = Observer()
    handler = _Wake(root, wake)
    observer.schedule(handler, str(root), recursive=False)
    for folder in ("issues", "themes"):
        if (root / folder).is_dir():
            observer.schedule(handler, str(root / folder), recursive=True)
    observer.daemon = True
    observer.start()

    def wait(seconds: float) -> None:
        wake.wait(seconds)
        wake.clear()

    try:
        watch(root, clock=offset_clock(start), wait=wait, stop=stop, say=say)
    finally:
        observer.stop()
        observer.join(timeout=1)
        for number, handler_before in previous.items():
            signal.signal(number, handler_before)
