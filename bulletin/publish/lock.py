"""One publisher at a time per bulletin: an exclusive flock on a file beside the log.

The kernel drops the lock when the holder dies, even by SIGKILL, so a crash never
leaves a stale lock behind. The holder's pid is written into the file for messages.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".publish.lock"


class Busy(Exception):
    """Another `bulletin publish` holds the lock."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        super().__init__(f"another `bulletin publish` is running (pid {pid or '?'})")


@contextlib.contextmanager
def publish_lock(root: Path) -> Iterator[None]:
    """Hold the bulletin's publish lock, or raise Busy at once (never wait: a cron
    run that finds the previous one still going simply leaves the work to it)."""
    descriptor = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(_pid(descriptor)) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def running_pid(root: Path) -> int | None:
    """The pid of a publish run in progress, if any (for display only)."""
    try:
        pid = int((root / LOCK_FILE).read_text().strip() or 0)
    except (OSError, ValueError):
        return None
    if not pid:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def _pid(descriptor: int) -> int | None:
    try:
        return int(os.pread(descriptor, 32, 0).decode().strip() or 0) or None
    except ValueError:
        return None
