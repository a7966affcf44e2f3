"""Is an output folder already what a build would make? Then the build is skipped whole.

A build's result depends on its input files, its options, the tool's version and,
through the schedule, on the clock only where a publish time lies between two
builds. A stamp kept beside the output's manifest records all of these after a
successful build; when none of them moved and the output files are as written, the
next build returns the recorded result without loading anything. Input files are
compared by path, size and modification time, like make and git; a file modified
within two seconds of the stamp is not trusted (the "racy" case git guards against).
The stamp is an optimisation only: a missing or damaged one means a full build.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bulletin import __version__

RACY_SECONDS = 2


@dataclass(frozen=True)
class Stamp:
    inputs: str  # digest of every input file's path, size and mtime
    newest_input_ns: int
    options: tuple
    now: datetime
    boundaries: tuple[datetime, ...]  # publish times: visibility changes only there
    written_ns: int
    result: Any  # the BuildResult of that build (read only when the stamp is valid)


def inputs_digest(roots: list[Path], skip: set[Path]) -> tuple[str, int, dict[str, Subtree]]:
    """Digest of path, size and mtime of every file below `roots` (folders in `skip`
    and hidden folders left out), the newest mtime among them, and the same of each
    folder directly below a root (the issue folders): the loader's cache takes those,
    so a build walks its inputs once."""
    digest = hashlib.sha1(__version__.encode())
    newest = 0
    skipped = {str(path) for path in skip}
    folders: dict[str, Subtree] = {}
    for root in roots:
        if root.is_file():
            newest = max(newest, _add_file(digest, str(root)))
            continue
        try:
            with os.scandir(root) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.path in skipped:
                continue
            if entry.is_dir():
                folders[entry.path] = subtree = subtree_digest(entry.path, skipped)
                digest.update(f"{entry.path}\0{subtree.digest}\n".encode())
                newest = max(newest, subtree.newest_ns)
            else:
                newest = max(newest, _add_file(digest, entry.path))
    return digest.hexdigest(), newest, folders


@dataclass(frozen=True)
class Subtree:
    digest: str  # of path, size and mtime of every file below a folder
    newest_ns: int  # the newest mtime among them


def subtree_digest(folder: str, skipped: frozenset[str] | set[str] = frozenset()) -> Subtree:
    digest = hashlib.sha1()
    newest = tree_digest(folder, digest, skipped)
    return Subtree(digest.hexdigest(), newest)


def _add_file(digest, path: str) -> int:
    """Add a file's path, size and mtime to `digest`; its mtime (0: it cannot be read)."""
    try:
        stat = os.stat(path)
    except OSError:  # a dangling link, an editor's lock file
        digest.update(f"{path}\0\n".encode())
        return 0
    digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return stat.st_mtime_ns


def tree_digest(folder: str, digest, skipped: frozenset[str] | set[str] = frozenset()) -> int:
    """Add the path, size and mtime of every file below `folder` to `digest`, depth
    first in name order, and return the newest mtime. Symlinked folders are followed
    as the loader follows them, each real folder once (a link back up is no loop);
    a dangling link counts by its name; hidden folders and those in `skipped` are
    left out."""
    try:
        top = os.stat(folder)
    except OSError:
        digest.update(f"{folder}\0gone\n".encode())
        return 0
    newest, seen, stack = 0, {(top.st_dev, top.st_ino)}, [(folder, top.st_dev)]
    while stack:
        current, device = stack.pop()
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=lambda entry: entry.name, reverse=True)
        except OSError:
            digest.update(f"{current}\0gone\n".encode())
            continue
        for entry in entries:  # reversed onto the stack: taken off in name order
            try:
                if entry.is_dir():
                    if entry.name.startswith(".") or entry.path in skipped:
                        continue
                    # only a symlink can lead back up; a plain folder's inode is free
                    inode = os.stat(entry.path) if entry.is_symlink() else None
                    where = (inode.st_dev, inode.st_ino) if inode else (device, entry.inode())
                    if where not in seen:
                        seen.add(where)
                        stack.append((entry.path, where[0]))
                    continue
            except OSError:  # a link to a folder that is gone
                digest.update(f"{entry.path}\0\n".encode())
                continue
            newest = max(newest, _add_file(digest, entry.path))
    return newest


def read(path: Path, inputs: str, options: tuple, now: datetime) -> Stamp | None:
    """The stamp when it is still valid for these inputs, options and clock. The file
    holds a small header and then the recorded result, which is read only when the
    header shows the stamp valid: after an edit, a miss costs next to nothing."""
    try:
        with path.open("rb") as stream:
            header = pickle.load(stream)
            if not isinstance(header, Stamp):
                return None
            if now.tzinfo is None:  # a clock given without an offset: the bulletin's zone
                now = now.replace(tzinfo=header.now.tzinfo)
            if not still_valid(header, inputs, options, now):
                return None
            return dataclasses.replace(header, result=pickle.load(stream))
    except Exception:  # missing, truncated, from another version
        return None


def still_valid(stamp: Stamp, inputs: str, options: tuple, now: datetime) -> bool:
    """Same inputs (not modified too close to the stamp), options and schedule state."""
    if stamp.inputs != inputs or stamp.options != options:
        return False
    if stamp.newest_input_ns > stamp.written_ns - RACY_SECONDS * 1_000_000_000:
        return False
    low, high = sorted((now, stamp.now))
    # a publish time in (low, high] would have changed what is visible
    return bisect.bisect_right(stamp.boundaries, low) == bisect.bisect_right(stamp.boundaries, high)


def write(path: Path, stamp_fields: dict) -> None:
    result = stamp_fields.pop("result")
    header = Stamp(written_ns=time.time_ns(), result=None, **stamp_fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".stamp.")
    with os.fdopen(handle, "wb") as stream:
        pickle.dump(header, stream, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(result, stream, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temporary, path)
