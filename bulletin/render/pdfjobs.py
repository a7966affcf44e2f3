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

from bulletin.render.pdf import PdfJob, write_pdf
from bulletin.result import PdfResult

_pool: ProcessPoolExecutor | None = None
_pool_size = 0


class PdfCache:
    """<folder>/<key>.pdf with <key>.json beside it (pages, warnings, sha256)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def record(self, key: str, issue_id: str) -> PdfResult | None:
        """What the cache knows of a PDF (pages, warnings), without reading it."""
        meta = self._meta(key)
        return PdfResult(issue_id, meta["pages"], meta["warnings"], cached=True) if meta else None

    def read(self, key: str, issue_id: str) -> tuple[bytes, PdfResult] | None:
        """The PDF's bytes when the entry is whole (its hash checks out)."""
        meta = self._meta(key)
        try:
            data = (self.folder / f"{key}.pdf").read_bytes()
        except OSError:
            return None
        if meta is None or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return None
        return data, PdfResult(issue_id, meta["pages"], meta["warnings"], cached=True)

    def _meta(self, key: str) -> dict | None:
        try:
            meta = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) and {"pages", "warnings"} <= meta.keys() else None

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
    """Lay out every job's PDF into its target and keep it in the cache; the callers
    have already taken what the cache had. Returns the results in job order."""
    results: dict[str, PdfResult] = {}
    for done, (job, target, result) in enumerate(_render(jobs), 1):
        if cache:
            cache.store(job, result, target)
        results[job.issue_id] = result
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
