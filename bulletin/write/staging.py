"""A staging folder next to the output, swapped in only when the whole build succeeded.

A failed build therefore leaves the previous site exactly as it was. The writer
refuses to write one path twice and refuses paths that escape the output folder.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from bulletin.errors import BulletinError

MARKER = ".bulletin-site"


class Staging:
    """Collects the files of one build; `commit()` puts them in place of `target`."""

    def __init__(self, target: Path) -> None:
        self.target = target.resolve()
        _refuse_foreign_folder(self.target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.folder = Path(
            tempfile.mkdtemp(prefix=f".{self.target.name}.new-", dir=self.target.parent)
        )
        self.written: set[str] = set()

    def path_for(self, relative: str) -> Path:
        """Where `relative` goes in the staging folder; each path may be claimed once."""
        destination = (self.folder / relative).resolve()
        if not destination.is_relative_to(self.folder) or destination == self.folder:
            raise BulletinError.single(f"refusing to write outside the output folder: {relative}")
        if relative in self.written:
            raise BulletinError.single(
                f"two pages want the same output path: {relative}",
                hint="two articles or terms map to one URL; rename one of them",
            )
        self.written.add(relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        return destination

    def write_text(self, relative: str, text: str) -> None:
        self.path_for(relative).write_text(text, encoding="utf-8")

    def copy(self, relative: str, source: Path) -> None:
        shutil.copyfile(source, self.path_for(relative))

    def commit(self) -> None:
        """Swap the staging folder in; the old output is removed only after the swap."""
        (self.folder / MARKER).write_text("made by bulletin; replaced whole on every build\n")
        self.folder.chmod(0o755)
        old = None
        if self.target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.old-", dir=self.target.parent))
            self.target.rename(old / "site")
        self.folder.rename(self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def _refuse_foreign_folder(target: Path) -> None:
    """Never replace a folder that bulletin did not make (say, -o pointed at $HOME)."""
    if target.is_file():
        raise BulletinError.single(f"the output {target} is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).exists():
        raise BulletinError.single(
            f"refusing to replace {target}: it is not empty and was not made by bulletin",
            hint="choose another output folder with -o, or empty this one",
        )
