"""Builds that share a cache folder, and the moment one of them may clean it.

Every build holds a shared lock on the cache's `builds.lock` while it runs: until it
ends, it may fetch any body its entries named when it loaded them, even one that
another build's save has since left unnamed. Deleting unnamed bodies takes the lock
exclusively and without waiting, so it is done only when no other build runs; when
one does, a later build does it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

FILE = "builds.lock"


class CacheLock:
    def __init__(self, folder: Path | None) -> None:
        self.path = folder / FILE if folder else None

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Held for the whole of a build (a lock that cannot be had is no reason to
        fail one: the cache is an optimisation only)."""
        handle = self._open()
        try:
            if handle is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(handle, fcntl.LOCK_SH)
            yield
        finally:
            if handle is not None:
                os.close(handle)  # and with it the lock

    @contextlib.contextmanager
    def alone(self) -> Iterator[bool]:
        """True inside when no build holds the lock, which is then this one's."""
        handle = self._open()
        try:
            if handle is None:
                yield False
                return
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # another build runs (or the file system has no locks)
                yield False
                return
            yield True
        finally:
            if handle is not None:
                os.close(handle)

    def _open(self) -> int | None:
        if self.path is None:
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return None
