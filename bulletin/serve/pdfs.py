"""Issue PDFs in the preview: made on demand, re-made in the background after edits.

PDF layout is slow, CPU-bound Python (WeasyPrint), so it runs in a child process:
it never holds the server's GIL, so a slow PDF never delays an HTML rebuild or a
reload, and Ctrl-C can kill it at once. Each issue's PDF has a version that goes up
whenever its sources change; a request waits for the PDF of the current version,
and the open pages are told (a "pdf" event) when a new one is ready.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulletin.serve.channel import Event
from bulletin.serve.rebuild import Outcome

# (issue id, target path) -> {"status": "ok" | "failed" | "missing", "problems": [...], ...}
PdfMaker = Callable[[str, Path], dict[str, Any]]

ISSUE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class PdfFailed(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class NoSuchIssue(Exception):
    pass


@dataclass
class _Pdf:
    version: int = 0  # goes up when the issue's sources change
    made: int = -1  # the version of the file on disk; -1: none
    failed: list[str] | None = None  # problems of the latest render, when it failed
    missing: bool = False
    wanted: bool = False  # looked at or edited: kept fresh after changes
    waiters: list[Future] = field(default_factory=list)


class PdfPreview:
    """Keeps the preview's issue PDFs in `folder`, one render at a time."""

    def __init__(
        self,
        folder: Path,
        make: PdfMaker,
        *,
        root: Path,
        publish: Callable[[Event], None] = lambda event: None,
    ) -> None:
        self.folder = folder
        self.make = make
        self.root = root.resolve()
        self.publish = publish
        self.renders = 0
        self._pdfs: dict[str, _Pdf] = {}
        self._queue: list[str] = []
        self._rendering = False
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="bulletin-pdf", daemon=True)
        self._thread.start()

    @property
    def idle(self) -> bool:
        """Nothing being made and nothing waiting to be."""
        with self._cond:
            return not self._queue and not self._rendering

    @staticmethod
    def url(issue_id: str) -> str:
        return f"/issues/{issue_id}/{issue_id}.pdf"

    def path(self, issue_id: str) -> Path:
        return self.folder / f"{issue_id}.pdf"

    # -- from the server ---------------------------------------------------

    def request(self, issue_id: str) -> Future:
        """A future for the path of the issue's current PDF (NoSuchIssue, PdfFailed)."""
        if not ISSUE_ID.fullmatch(issue_id):
            raise NoSuchIssue(issue_id)
        future: Future = Future()
        with self._cond:
            pdf = self._pdfs.setdefault(issue_id, _Pdf())
            pdf.wanted = True
            if pdf.made == pdf.version and self.path(issue_id).is_file():
                future.set_result(self.path(issue_id))
                return future
            pdf.waiters.append(future)
            self._enqueue(issue_id)
        return future

    # -- from the builder --------------------------------------------------

    def after_build(self, outcome: Outcome) -> None:
        """A good build changed some sources: the PDFs that use them are out of date.
        The issue being edited is re-made at once; others when someone looks at them."""
        if not outcome.state.ok or not outcome.changes:
            return
        edited, everything = self.affected(outcome.changes)
        with self._cond:
            for issue_id in edited:
                self._pdfs.setdefault(issue_id, _Pdf()).wanted = True
            for issue_id, pdf in self._pdfs.items():
                if everything or issue_id in edited:
                    pdf.version += 1
                    pdf.missing = False
                    if pdf.wanted:
                        self._enqueue(issue_id)

    def affected(self, changes: frozenset[Path]) -> tuple[set[str], bool]:
        """The issues whose own files changed, and whether anything shared did
        (bulletin.yaml, a theme), which affects every issue."""
        issues_dir = self.root / "issues"
        edited: set[str] = set()
        everything = False
        for path in changes:
            if path.is_relative_to(issues_dir) and len(path.relative_to(issues_dir).parts) > 1:
                edited.add(path.relative_to(issues_dir).parts[0])
            else:
                everything = True
        return edited, everything

    def close(self) -> None:
        """Stop making PDFs: requests waiting for one get an answer at once."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            waiters = [w for pdf in self._pdfs.values() for w in pdf.waiters]
            for pdf in self._pdfs.values():
                pdf.waiters = []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(PdfFailed(["the preview is stopping"]))
        closer = getattr(self.make, "close", None)
        if closer:
            closer()

    # -- the render thread -------------------------------------------------

    def _enqueue(self, issue_id: str) -> None:
        if issue_id not in self._queue:
            self._queue.append(issue_id)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                issue_id = self._queue.pop(0)
                pdf = self._pdfs[issue_id]
                version = pdf.version
                self._rendering = True
            self.publish(self._event(issue_id, "rendering"))
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = self.folder / f".{issue_id}.{version}.part"
            try:
                result = self.make(issue_id, partial)
            except Exception as exc:  # a bug must not stop the preview
                traceback.print_exc()
                result = {"status": "failed", "problems": [f"{type(exc).__name__}: {exc}"]}
            self.renders += 1
            try:
                self._finish(issue_id, version, partial, result)
            finally:
                with self._cond:
                    self._rendering = False

    def _finish(self, issue_id: str, version: int, partial: Path, result: dict[str, Any]) -> None:
        status = result.get("status")
        with self._cond:
            if self._closed:
                partial.unlink(missing_ok=True)
                return
            pdf = self._pdfs[issue_id]
            pdf.missing = status == "missing"
            if status == "ok":
                os.replace(partial, self.path(issue_id))
                pdf.made, pdf.failed = version, None
            else:
                partial.unlink(missing_ok=True)
                pdf.failed = list(result.get("problems") or [])
            if pdf.version != version and not pdf.missing:
                self._enqueue(issue_id)  # changed again while rendering: not current yet
                return
            waiters, pdf.waiters = pdf.waiters, []
        for waiter in waiters:
            if waiter.cancelled():
                continue
            if status == "ok":
                waiter.set_result(self.path(issue_id))
            elif status == "missing":
                waiter.set_exception(NoSuchIssue(issue_id))
            else:
                waiter.set_exception(PdfFailed(pdf.failed or ["the PDF could not be made"]))
        if status == "ok":
            self.publish(self._event(issue_id, "ready", warnings=result.get("warnings") or []))
        elif status == "failed":
            self.publish(self._event(issue_id, "failed", problems=pdf.failed or []))

    def _event(self, issue_id: str, status: str, **extra: Any) -> Event:
        data = {"issue": issue_id, "status": status, "url": self.url(issue_id), **extra}
        return Event("pdf", data, key=issue_id)


# -- the real PDF maker: bulletin's own build, in a child process -------------


_builders: dict[Path, Any] = {}  # one per bulletin, alive as long as the child process


def make_issue_pdf(root: Path, issue_id: str, target: Path) -> dict[str, Any]:
    """Lay out one issue as the preview shows it (drafts and future issues included),
    through the same PDF cache as `bulletin build`. Runs in the child process, whose
    builder keeps its caches warm between PDFs."""
    from bulletin.build import Builder
    from bulletin.errors import BulletinError
    from bulletin.schedule import Visibility

    builder = _builders.setdefault(root, Builder(root))
    visibility = Visibility(datetime.now(UTC), drafts=True, future=True)
    try:
        result = builder.issue_pdf(issue_id, target, visibility)
    except BulletinError as exc:
        return {"status": "failed", "problems": [p.format(root) for p in exc.problems]}
    if result is None:
        return {"status": "missing"}
    return {"status": "ok", "pages": result.pages, "warnings": result.warnings}


class ChildProcess:
    """Calls `function(*args)` in one long-lived child process, one call at a time.

    Spawned, not forked (the server runs threads); niced, so the HTML builds win the
    CPU; it ignores Ctrl-C (the server stops it) and dies with the server."""

    def __init__(self, function: Callable[..., dict[str, Any]], *bound: Any) -> None:
        self.function = function
        self.bound = bound
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Any = None
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> dict[str, Any]:
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            try:
                self._conn.send((*self.bound, *args))
                return self._conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                self._process = None
                return {"status": "failed", "problems": ["the PDF process stopped"]}

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_child_main, args=(child, self.function), name="bulletin-pdf", daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent

    def close(self) -> None:
        process = self._process
        if process is not None and process.is_alive():
            process.kill()
            process.join(timeout=1)
        if self._conn is not None:
            self._conn.close()


def _child_main(conn: Any, function: Callable[..., dict[str, Any]]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(10)
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = function(*args)
        except Exception as exc:
            result = {"status": "failed", "problems": [f"{type(exc).__name__}: {exc}"]}
        conn.send(result)
