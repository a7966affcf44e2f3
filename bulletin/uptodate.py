"""Is an output folder already what a build would make? Then the build is skipped whole.

A build's result depends on its input files, its options, the tool's version and,
through the schedule, on the clock only where a publish time lies between two
builds. A stamp kept beside the output's manifest records all of these after a
successful build; when none of them moved and the output files are as written, the
next build returns the recorded result without loading anything. Input files are
compared by path, size and modification time, like make and git; a file modified
within two seconds of the stamp is not trusted (the "racy" case git guards against).
The stamp also keeps a digest of each issue folder, so that a build after edits in
a few folders learns which, and what each issue showed in lists. The stamp is an
optimisation only: a missing or damaged one means a full build.
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
class Inputs:
    """What a build reads, as found by one walk of its input files."""

    digest: str  # of every input file's path, size and mtime
    newest_ns: int  # the newest mtime among them
    folders: dict[str, Subtree]  # each folder directly below a root (issue folders, themes)
    loose: Subtree  # every input file that is in none of those folders


@dataclass(frozen=True)
class Stamp:
    inputs: str  # digest of every input file's path, size and mtime
    newest_input_ns: int
    options: tuple
    now: datetime
    boundaries: tuple[datetime, ...]  # publish times: visibility changes only there
    written_ns: int
    result: Any  # the BuildResult of that build (read only when the stamp is valid)
    folders: dict[str, Subtree] = dataclasses.field(default_factory=dict)
    loose: Subtree | None = None
    index: Any = None  # what the build knew of each issue, for a rebuild after edits


def inputs_digest(roots: list[Path], skip: set[Path]) -> Inputs:
    """Path, size and mtime of every file below `roots` (folders in `skip` and hidden
    folders left out), digested as a whole and per folder directly below a root (the
    issue folders): the loader's cache takes those, so a build walks its inputs once,
    and a rebuild learns from them which issues were edited."""
    digest = hashlib.sha1(__version__.encode())
    loose = hashlib.sha1()
    newest = loose_newest = 0
    skipped = {str(path) for path in skip}
    folders: dict[str, Subtree] = {}
    for root in roots:
        if root.is_file():
            loose_newest = max(loose_newest, _add_file(loose, str(root)))
            continue
        try:
            with os.scandir(root) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            loose.update(f"{root}\0gone\n".encode())
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.path in skipped:
                continue
            if entry.is_dir():
                folders[entry.path] = subtree = subtree_digest(entry.path, skipped)
                digest.update(f"{entry.path}\0{subtree.digest}\n".encode())
                newest = max(newest, subtree.newest_ns)
            else:
                loose_newest = max(loose_newest, _add_file(loose, entry.path))
    digest.update(loose.digest())
    newest = max(newest, loose_newest)
    return Inputs(digest.hexdigest(), newest, folders, Subtree(loose.hexdigest(), loose_newest))


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


def read(path: Path) -> Stamp | None:
    """The stamp's header: what the last build depended on, without its result."""
    try:
        with path.open("rb") as stream:
            header = pickle.load(stream)
        return header if isinstance(header, Stamp) else None
    except Exception:  # missing, truncated, from another version
        return None


def read_result(path: Path) -> Any:
    """The result the stamp recorded, which follows its header in the file; None when
    the file cannot be read (then the build is made in full)."""
    try:
        with path.open("rb") as stream:
            pickle.load(stream)
            return pickle.load(stream)
    except Exception:
        return None


def zoned(now: datetime, stamp: Stamp) -> datetime:
    """A clock given without an offset is read in the bulletin's zone, as the stamp's."""
    return now if now.tzinfo else now.replace(tzinfo=stamp.now.tzinfo)


def still_valid(stamp: Stamp, inputs: str, options: tuple, now: datetime) -> bool:
    """Same inputs (not modified too close to the stamp), options and schedule state."""
    if stamp.inputs != inputs or stamp.options != options:
        return False
    if stamp.newest_input_ns > stamp.written_ns - RACY_SECONDS * 1_000_000_000:
        return False
    return same_schedule(stamp, now)


def same_schedule(stamp: Stamp, now: datetime) -> bool:
    """No publish time lies between the stamp's clock and `now`: the same is visible."""
    low, high = sorted((zoned(now, stamp), stamp.now))
    # a publish time in (low, high] would have changed what is visible
    return bisect.bisect_right(stamp.boundaries, low) == bisect.bisect_right(stamp.boundaries, high)


def edited_folders(stamp: Stamp, inputs: Inputs, options: tuple, now: datetime, under: Path):
    """The folders below `under` (the issue folders) that may have changed since the
    stamp, when nothing else did: no file outside them, no folder added or removed, the
    same options and schedule state. None when something else changed too. A folder
    modified within the racy window before the stamp counts as changed: its times
    prove nothing."""
    if stamp.options != options or stamp.loose is None or not same_schedule(stamp, now):
        return None
    if inputs.folders.keys() != stamp.folders.keys() or _unsettled(stamp, stamp.loose):
        return None
    if inputs.loose.digest != stamp.loose.digest:
        return None
    edited = [
        folder
        for folder, subtree in inputs.folders.items()
        if subtree.digest != stamp.folders[folder].digest or _unsettled(stamp, subtree)
    ]
    inside = str(under) + os.sep
    return edited if all(folder.startswith(inside) for folder in edited) else None


def _unsettled(stamp: Stamp, subtree: Subtree) -> bool:
    return subtree.newest_ns > stamp.written_ns - RACY_SECONDS * 1_000_000_000


def write(path: Path, stamp_fields: dict) -> None:
    result = stamp_fields.pop("result")
    header = Stamp(written_ns=time.time_ns(), result=None, **stamp_fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".stamp.")
    with os.fdopen(handle, "wb") as stream:
        pickle.dump(header, stream, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(result, stream, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temporary, path)
