"""Putting a built site live: into a local folder, or through a command such as rsync.

A folder is replaced atomically: each publication is a release folder beside it, and
the served path is a symlink that rename(2) points at the new release in one step, so
a web server (or a crash) never sees half a site. The last few releases are kept for a
rollback by hand (`ln -sfn`). A command runs where `site/` is the freshly built site.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from bulletin.publish.log import fsync_folder
from bulletin.publish.settings import DeploySettings
from bulletin.write.output import MARKER


class DeployError(Exception):
    """The site could not be put live; the message says why, for the log and the editor."""


class Target(Protocol):
    def prepare(self, run: str) -> Path:
        """A folder path that does not exist yet, for the build to write the site into."""

    def deploy(self, site: Path) -> str:
        """Put `site` live; returns what was done, or raises DeployError."""

    def cleanup(self) -> None:
        """Remove what prepare() made and deploy() did not keep."""


def target_for(settings: DeploySettings, root: Path) -> Target:
    if settings.command is not None:
        return CommandTarget(settings.command, settings.timeout, root)
    assert settings.folder is not None
    return FolderTarget(settings.folder, settings.keep)


class FolderTarget:
    """`folder` becomes a symlink to `.<folder>.releases/<run>/`, swapped atomically."""

    def __init__(self, folder: Path, keep: int = 3) -> None:
        self.folder = Path(os.path.abspath(folder))  # not resolve(): it may be our symlink
        self.releases = self.folder.parent / f".{self.folder.name}.releases"
        self.keep = keep
        self.release: Path | None = None

    def prepare(self, run: str) -> Path:
        self.releases.mkdir(parents=True, exist_ok=True)
        self.release = self.releases / run
        return self.release

    def deploy(self, site: Path) -> str:
        self._take_over_folder(site.name)
        link = self.releases / f".link-{site.name}"
        link.unlink(missing_ok=True)
        os.symlink(os.path.relpath(site, self.folder.parent), link)
        os.replace(link, self.folder)  # the one atomic step
        fsync_folder(self.folder.parent)
        self._prune(site)
        return f"folder {self.folder}"

    def cleanup(self) -> None:
        if self.release is not None and self.release != self.live():
            shutil.rmtree(self.release, ignore_errors=True)

    def live(self) -> Path | None:
        """The release the folder points at now."""
        if not self.folder.is_symlink():
            return None
        return (self.folder.parent / os.readlink(self.folder)).resolve()

    def _take_over_folder(self, run: str) -> None:
        """A real folder in the way (say, from `bulletin build -o`) becomes a release
        once; a folder that bulletin did not make is never touched."""
        if self.folder.is_symlink() or not self.folder.exists():
            return
        if not self.folder.is_dir():
            raise DeployError(f"{self.folder} is a file, not a folder")
        if any(self.folder.iterdir()) and not (self.folder / MARKER).exists():
            raise DeployError(
                f"refusing to replace {self.folder}: it is not empty and was not made by "
                "bulletin; empty it, or set `deploy: folder:` to another path"
            )
        self.folder.rename(self.releases / f"adopted-before-{run}")

    def _prune(self, live: Path) -> None:
        """Keep the live release and the newest others up to `keep`; drop leftovers of
        runs that were killed (staging folders, links)."""
        entries = sorted(self.releases.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        kept = [live]
        for entry in entries:
            if entry == live:
                continue
            if not entry.name.startswith(".") and entry.is_dir() and len(kept) < self.keep:
                kept.append(entry)
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


class CommandTarget:
    """Runs the deploy command in a scratch folder where `site/` is the built site
    (also in $BULLETIN_SITE; the bulletin's folder is $BULLETIN_ROOT)."""

    def __init__(self, command: str | tuple[str, ...], timeout: float, root: Path) -> None:
        self.command = command
        self.timeout = timeout
        self.root = root
        self.scratch: Path | None = None

    @property
    def shown(self) -> str:
        return self.command if isinstance(self.command, str) else " ".join(self.command)

    def prepare(self, run: str) -> Path:
        self.scratch = Path(tempfile.mkdtemp(prefix=f"bulletin-publish-{run}-"))
        return self.scratch / "site"

    def deploy(self, site: Path) -> str:
        argv = ["/bin/sh", "-c", self.command] if isinstance(self.command, str) else self.command
        env = {**os.environ, "BULLETIN_SITE": str(site), "BULLETIN_ROOT": str(self.root)}
        try:
            process = subprocess.Popen(
                argv,
                cwd=site.parent,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so a time-out can stop all it started
            )
        except OSError as exc:
            raise DeployError(f"cannot run `{self.shown}`: {exc.strerror}") from None
        try:
            output, _ = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            raise DeployError(
                f"`{self.shown}` did not finish in {self.timeout:g} s and was stopped"
            ) from None
        except BaseException:
            _stop(process)
            raise
        if process.returncode != 0:
            how = (
                f"was killed by signal {-process.returncode}"
                if process.returncode < 0
                else f"exited with status {process.returncode}"
            )
            raise DeployError(f"`{self.shown}` {how}{_tail(output)}")
        return f"command `{self.shown}`"

    def cleanup(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def _stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def _tail(output: bytes, lines: int = 5, limit: int = 600) -> str:
    text = output.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    tail = " | ".join(text.splitlines()[-lines:])
    return ": " + (tail if len(tail) <= limit else "…" + tail[-limit:])
