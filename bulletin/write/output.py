"""The site folder, brought up to date in place.

A build tells the output, page by page, the key of the page's inputs: a page whose
key and file are as the last build left them is not rendered at all; a rendered
page whose bytes did not change is not rewritten (its mtime stays, so an rsync deploy
stays small); a changed page is written to a temporary file beside its place. Only
when every page has rendered does `commit()` rename them in and delete the pages
whose sources went away, so a failed build leaves the previous site as it was.

What the last build wrote is remembered in a manifest kept in the bulletin's cache
(in marshal's format: a large archive's manifest is read and written by every build,
and marshal does both several times faster than json); without it, existing files are
compared byte for byte, so the output is the same.
The writer refuses to write one path twice and paths that escape the folder, and
never takes over a non-empty folder that bulletin did not make.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import posixpath
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

from bulletin.errors import BulletinError

FORMAT = "bulletin-manifest-1"  # the first item of every manifest
MARKER = ".bulletin-site"  # in every folder bulletin made: only those it takes over
TEMPORARY = ".bulletin-new"
BUILDING = ".bulletin-building"  # present while changed pages wait to be renamed in


class Record(NamedTuple):
    key: str | None  # the inputs the file was made from; None: unknown
    sha1: str | None
    size: int
    mtime_ns: int


class Output:
    def __init__(self, target: Path, manifest: Path | None) -> None:
        self.target = target.resolve()
        self.root = str(self.target)
        self.existed = self.target.exists()
        _refuse_foreign_folder(self.target)
        if (self.target / BUILDING).exists():  # a build was killed while writing
            clean_temporaries(self.target)
        self.manifest = manifest
        self.previous_groups: dict[str, tuple[str, list[str]]] = {}
        manifest_read = self._read_manifest()
        self.known = manifest_read is not None  # what is there is known from the manifest
        self.previous = manifest_read if manifest_read is not None else self._scan()
        self.current: dict[str, Record] = {}
        self.groups: dict[str, tuple[str, list[str]]] = {}  # name -> key, paths
        self.pending: list[tuple[str, Path, str, str]] = []  # path, temporary, key, sha1
        self.written: list[str] = []
        self.claimed: set[str] = set()
        self.created: list[Path] = []  # folders this build made, outermost first
        self.folders: set[Path] = set()  # folders known to exist

    def keep_group(self, name: str, key: str) -> bool:
        """Keep a group of files whole (an issue's pages) when the last build made it
        from the same key and every file of it is intact; else start the group anew,
        for the files claimed into it next."""
        key_before, paths = self.previous_groups.get(name, (None, []))
        kept = key_before == key and all(
            path in self.previous and self._intact(path, self.previous[path]) for path in paths
        )
        self.groups[name] = (key, [])
        if kept:  # paths checked when first claimed
            if not self.claimed.isdisjoint(paths):
                raise BulletinError.single(f"two pages want the same output path in {name}")
            self.groups[name] = (key, paths)
            self.claimed.update(paths)
            self.current.update((path, self.previous[path]) for path in paths)
        return kept

    def keep_others(self, planned: set[str], renewed: tuple[str, ...]) -> bool:
        """Keep every file of the last build that is neither `planned` again nor under
        a folder in `renewed` (those are made anew), with its group, when all of them
        are intact; False, keeping nothing, when one is not, or when the folder's
        manifest is missing (a folder deleted or emptied by hand has nothing to keep)."""
        if not self.known:
            return False
        kept = {
            path: record
            for path, record in self.previous.items()
            if path not in planned and path not in self.claimed and not path.startswith(renewed)
        }
        if not all(self._intact(path, record) for path, record in kept.items()):
            return False
        self.claimed.update(kept)
        self.current.update(kept)
        for name, group in self.previous_groups.items():
            self.groups.setdefault(name, group)
        return True

    def claim(self, relative: str, group: str | None = None) -> Path:
        """Where `relative` goes; each path may be claimed once, inside the folder."""
        normal = posixpath.normpath(relative)
        if normal != relative or normal.startswith(("/", "../")) or normal in (".", ".."):
            raise BulletinError.single(f"refusing to write outside the output folder: {relative}")
        if relative in self.claimed:
            raise BulletinError.single(
                f"two pages want the same output path: {relative}",
                hint="two articles or terms map to one URL; rename one of them",
            )
        self.claimed.add(relative)
        if group is not None:
            self.groups[group][1].append(relative)
        return self.target / relative

    def unchanged(self, relative: str, key: str, group: str | None = None) -> bool:
        """True (and kept) when the file was made from the same inputs and is intact."""
        record = self.previous.get(relative)
        if record is None or record.key != key or not self._intact(relative, record):
            return False
        self.claim(relative, group)
        self.current[relative] = record
        return True

    def write(self, relative: str, data: bytes, key: str) -> None:
        self.claim(relative)
        if not self.pending:
            self.begin()
        self.apply(self.prepare(relative, data, key))

    def prepare(self, relative: str, data: bytes, key: str) -> tuple:
        """The part of writing a claimed page that may run in a worker process: keep
        the file when its bytes are the same, else write a temporary file beside it."""
        sha1 = hashlib.sha1(data).hexdigest()
        record = self.previous.get(relative)
        if record is not None and self._same(relative, record, data, sha1):
            return ("same", relative, key, sha1, record.size, record.mtime_ns, [])
        destination = self.target / relative
        created = self._make_folder(destination.parent)
        if not self.existed:  # a new folder: a failed build removes it whole
            with destination.open("wb", buffering=0) as stream:
                stream.write(data)
                stat = os.fstat(stream.fileno())
            return ("placed", relative, key, sha1, stat.st_size, stat.st_mtime_ns, created)
        temporary = destination.with_name(destination.name + TEMPORARY)
        temporary.write_bytes(data)
        return ("new", relative, key, sha1, temporary, 0, created)

    def begin(self) -> None:
        """Mark the folder as being written, so that temporary files of a build that is
        killed now are found and removed by the next one (and a new folder as made by
        bulletin: pages go straight into it, and the next build takes over what a
        killed one left there)."""
        self._make_folder(self.target)
        (self.target / BUILDING).touch()
        if not self.existed:
            _mark(self.target)

    def apply(self, action: tuple) -> None:
        kind, relative, key, sha1, where, mtime_ns, created = action
        self.created.extend(created)
        if kind == "same":
            self.current[relative] = Record(key, sha1, where, mtime_ns)
        elif kind == "placed":
            self.current[relative] = Record(key, sha1, where, mtime_ns)
            self.written.append(relative)
        else:
            self.pending.append((relative, where, key, sha1))

    def copy(self, relative: str, source: Path) -> None:
        """A static file: skipped when its source is as it was last time."""
        stat = source.stat()
        key = f"file:{source}:{stat.st_size}:{stat.st_mtime_ns}"
        if not self.unchanged(relative, key):
            self.write(relative, source.read_bytes(), key)

    def commit(self) -> None:
        """Rename the changed pages in, delete what went away, remember what is there."""
        self.target.mkdir(parents=True, exist_ok=True)
        for relative, temporary, key, sha1 in self.pending:
            destination = self.target / relative
            os.replace(temporary, destination)
            stat = destination.stat()
            self.current[relative] = Record(key, sha1, stat.st_size, stat.st_mtime_ns)
            self.written.append(relative)
        for relative in self.previous.keys() - self.current.keys():
            (self.target / relative).unlink(missing_ok=True)
            _remove_empty_parents(self.target / relative, self.target)
        (self.target / BUILDING).unlink(missing_ok=True)
        _mark(self.target)
        self._write_manifest()

    def discard(self) -> None:
        """Undo a failed build: its temporary files (also those of pages prepared but
        not yet handed back) and the folders made for them go."""
        self.pending = []
        if not self.existed:
            shutil.rmtree(self.target, ignore_errors=True)
            return
        if (self.target / BUILDING).exists():
            clean_temporaries(self.target)
            (self.target / BUILDING).unlink(missing_ok=True)
        for folder in sorted(self.created, key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def _make_folder(self, folder: Path) -> list[Path]:
        """Make a folder and its missing parents; returns those made, outermost first."""
        if folder in self.folders:
            return []
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        made = []
        for folder in reversed(missing):
            folder.mkdir(exist_ok=True)  # a worker may make it at the same moment
            made.append(folder)
            self.folders.add(folder)
        self.folders.add(folder)
        return made

    @staticmethod
    def intact(target: Path, manifest: Path) -> bool:
        """Whether every file the last build wrote is still there as it was written."""
        data = _load(manifest)
        root = str(target.resolve())
        if data is None or data["target"] != root or not (target / MARKER).exists():
            return False
        for relative, (_key, _sha1, size, mtime_ns) in data["files"].items():
            try:
                stat = os.stat(os.path.join(root, relative))
            except OSError:
                return False
            if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
                return False
        return True

    @property
    def deleted(self) -> list[str]:
        return sorted(self.previous.keys() - self.current.keys())

    def _intact(self, relative: str, record: Record) -> bool:
        try:
            stat = os.stat(os.path.join(self.root, relative))
        except OSError:
            return False
        return (stat.st_size, stat.st_mtime_ns) == (record.size, record.mtime_ns)

    def _same(self, relative: str, record: Record, data: bytes, sha1: str) -> bool:
        if record.sha1 is not None:
            return record.sha1 == sha1 and self._intact(relative, record)
        try:  # no manifest: compare with the file itself
            return (self.target / relative).read_bytes() == data
        except OSError:
            return False

    def _scan(self) -> dict[str, Record]:
        """Without a manifest, every file of a folder bulletin made counts as its own."""
        records = {}
        if (self.target / MARKER).exists():
            for path in self.target.rglob("*"):
                own = path.name in (MARKER, BUILDING) or path.name.endswith(TEMPORARY)
                if path.is_file() and not own:
                    stat = path.stat()
                    relative = path.relative_to(self.target).as_posix()
                    records[relative] = Record(None, None, stat.st_size, stat.st_mtime_ns)
        return records

    def _read_manifest(self) -> dict[str, Record] | None:
        if self.manifest is None or not (self.target / MARKER).exists():
            return None
        data = _load(self.manifest)
        if data is None or data["target"] != str(self.target):
            return None
        try:
            files = {path: Record(*fields) for path, fields in data["files"].items()}
            self.previous_groups = {name: tuple(group) for name, group in data["groups"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return files

    def _write_manifest(self) -> None:
        unchanged = self.current == self.previous and self.groups == self.previous_groups
        if self.manifest is None or (unchanged and self.manifest.exists()):
            return
        data = {
            "target": str(self.target),
            "files": {path: tuple(record) for path, record in self.current.items()},
            "groups": {name: (key, list(paths)) for name, (key, paths) in self.groups.items()},
        }
        self.manifest.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.manifest.parent, prefix=".manifest.")
        with os.fdopen(handle, "wb") as stream:
            stream.write(marshal.dumps((FORMAT, data)))
        os.replace(temporary, self.manifest)
        _prune_manifests(self.manifest.parent, self.manifest)


def _load(manifest: Path) -> dict | None:
    """A manifest's content; None when it is missing, damaged or of another format."""
    try:
        kind, data = marshal.loads(manifest.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    ok = kind == FORMAT and isinstance(data, dict) and isinstance(data.get("files"), dict)
    return data if ok and isinstance(data.get("target"), str) else None


def manifest_path(cache: Path, target: Path) -> Path:
    """One manifest per output folder, named by the folder's path."""
    name = hashlib.sha1(str(target.resolve()).encode()).hexdigest()[:16]
    return cache / "outputs" / f"{name}.manifest"


def _prune_manifests(folder: Path, keep: Path) -> None:
    """Forget output folders that are gone (a publisher builds each release afresh)."""
    for manifest in folder.glob("*.manifest"):
        if manifest == keep:
            continue
        data = _load(manifest)
        if data is None or not Path(data["target"]).is_dir():
            manifest.unlink(missing_ok=True)
            manifest.with_suffix(".stamp").unlink(missing_ok=True)
    for old in folder.glob("*.json"):  # manifests in the json format of earlier versions
        old.unlink(missing_ok=True)


def _mark(target: Path) -> None:
    marker = target / MARKER
    if not marker.exists():
        marker.write_text("made by bulletin; its pages are kept up to date by every build\n")


def _remove_empty_parents(path: Path, top: Path) -> None:
    folder = path.parent
    while folder != top and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _refuse_foreign_folder(target: Path) -> None:
    """Never take over a folder that bulletin did not make (say, -o pointed at $HOME)."""
    if target.is_file():
        raise BulletinError.single(f"the output {target} is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).exists():
        raise BulletinError.single(
            f"refusing to replace {target}: it is not empty and was not made by bulletin",
            hint="choose another output folder with -o, or empty this one",
        )


def clean_temporaries(target: Path) -> None:
    """Remove temporary files a killed or failed build left behind."""
    if target.is_dir():
        for path in target.rglob(f"*{TEMPORARY}"):
            path.unlink(missing_ok=True)
