"""Make many issue PDFs: unchanged ones from the cache, changed ones in parallel.

Layout is CPU-bound Python, so while this process lays out the largest changed
issue, the others go to a pool of worker processes (one per remaining core) that
lives as long as this process (the preview server reuses it; `import weasyprint`
costs about 0.7 s once per worker, not once per PDF). The cache is an optimisation
only: PDFs are deterministic, so a hit is byte-identical to a fresh render, and a
missing, truncated or corrupt entry is simply rendered again.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import multiprocessing
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path

from bulletin.render.pdf import PdfJob, PdfResult, write_pdf

_pool: ProcessPoolExecutor | None = None
_pool_size = 0


class PdfCache:
    """<folder>/<key>.pdf with <key>.json beside it (pages, warnings, sha256)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fetch(self, job: PdfJob, target: Path) -> PdfResult | None:
        pdf, meta = self.folder / f"{job.key}.pdf", self.folder / f"{job.key}.json"
        try:
            record = json.loads(meta.read_text(encoding="utf-8"))
            data = pdf.read_bytes()
        except (OSError, ValueError):
            return None
        if hashlib.sha256(data).hexdigest() != record.get("sha256"):
            return None
        target.write_bytes(data)
        return PdfResult(job.issue_id, record["pages"], record["warnings"], cached=True)

    def record(self, key: str, issue_id: str) -> PdfResult | None:
        """What the cache knows of a PDF (pages, warnings), without reading it."""
        try:
            record = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            return PdfResult(issue_id, record["pages"], record["warnings"], cached=True)
        except (OSError, ValueError, KeyError):
            return None

    def read(self, key: str, issue_id: str) -> tuple[bytes, PdfResult] | None:
        """The PDF's bytes when the entry is whole (its hash checks out)."""
        record = self.record(key, issue_id)
        try:
            data = (self.folder / f"{key}.pdf").read_bytes()
            expected = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))[
                "sha256"
            ]
        except (OSError, ValueError, KeyError):
            return None
        if record is None or hashlib.sha256(data).hexdigest() != expected:
            return None
        return data, record

    def store(self, job: PdfJob, result: PdfResult, rendered: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = rendered.read_bytes()
        record = {
            "pages": result.pages,
            "warnings": result.warnings,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        _atomic_write(self.folder / f"{job.key}.pdf", data)
        _atomic_write(self.folder / f"{job.key}.json", json.dumps(record).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
    os.replace(temporary, path)


def make_pdfs(
    jobs: list[tuple[PdfJob, Path]],
    cache: PdfCache | None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[PdfResult]:
    """Write every job's PDF to its target; returns the results in job order."""
    results: dict[str, PdfResult] = {}
    todo = []
    for job, target in jobs:
        hit = cache.fetch(job, target) if cache else None
        if hit:
            results[job.issue_id] = hit
        else:
            todo.append((job, target))
    done = len(results)
    for job, target, result in _render(todo):
        if cache:
            cache.store(job, result, target)
        results[job.issue_id] = result
        done += 1
        if progress:
            progress(job.issue_id, done, len(jobs))
    return [results[job.issue_id] for job, _ in jobs]


def _render(todo: list[tuple[PdfJob, Path]]):
    """The largest job renders in this process while the others go to a pool of
    workers on the remaining cores; yields (job, target, result) as they finish."""
    todo = sorted(todo, key=lambda item: len(item[0].html), reverse=True)
    cores = os.cpu_count() or 1
    futures: dict[Future, tuple[PdfJob, Path]] = {}
    if len(todo) > 1 and cores > 1:
        pool = _worker_pool(min(len(todo) - 1, cores - 1))
        futures = {
            pool.submit(write_pdf, job, str(target)): (job, target) for job, target in todo[1:]
        }
        here = todo[:1]
    else:
        here = todo
    for job, target in here:
        yield job, target, write_pdf(job, str(target))
    for future in as_completed(futures):
        job, target = futures[future]
        yield job, target, future.result()


def _worker_pool(size: int) -> ProcessPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size < size:
        if _pool is not None:
            _pool.shutdown()
        # spawn, not fork: the caller may run threads (progress bar, preview server)
        context = multiprocessing.get_context("spawn")
        _pool = ProcessPoolExecutor(size, mp_context=context, initializer=_warm_up)
        _pool_size = size
        atexit.register(_pool.shutdown)
    return _pool


def _warm_up() -> None:
    import weasyprint  # noqa: F401  (the slow import, once per worker)

    from bulletin.render import cjk

    cjk.install()
