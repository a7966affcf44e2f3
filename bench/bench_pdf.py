"""Time the issue PDFs: the sample issues and a generated 60-page issue.

For each issue: the median and range of laying out and writing its PDF in a warm,
long-lived process (WeasyPrint imported once), the peak memory of the process, and
the cost of the Chinese inter-character justification, measured by alternating runs
with and without it in the same process.

    .venv/bin/python bench/bench_pdf.py [--runs 5]
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bulletin.build import load  # noqa: E402
from bulletin.render import cjk  # noqa: E402
from bulletin.render.pdf import laid_out, pdf_job  # noqa: E402
from bulletin.render.templates import make_environment  # noqa: E402
from bulletin.schedule import Visibility  # noqa: E402


def jobs_of(root: Path):
    loaded = load(root, Visibility(datetime(2100, 1, 1), drafts=True, future=True))
    env = make_environment(loaded.theme)
    return [pdf_job(i, loaded.bulletin, env, loaded.theme) for i in loaded.bulletin.issues]


def render_seconds(job, target: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with laid_out(job) as (document, _):
        document.write_pdf(target)
    return time.perf_counter() - started, len(document.pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    subprocess.run(
        [
            sys.executable,
            str(REPO / "bench/generate.py"),
            str(work / "long"),
            "--articles",
            "40",
            "--per-issue",
            "40",
            "--seed",
            "7",
        ],
        check=True,
        capture_output=True,
    )
    jobs = jobs_of(REPO) + jobs_of(work / "long")
    from weasyprint.layout import inline

    cjk.install()
    patched = inline.justify_line
    plain = patched.__wrapped__
    render_seconds(jobs[0], work / "warm.pdf")  # imports, font caches
    print(
        f"# {platform.node()}: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {datetime.now():%Y-%m-%d}"
    )
    print("| issue | pages | median s | min–max s | without justification, median s | cost |")
    print("|---|---|---|---|---|---|")
    for job in jobs:
        with_times, without_times = [], []
        pages = 0
        for _ in range(args.runs):
            inline.justify_line = patched
            seconds, pages = render_seconds(job, work / "a.pdf")
            with_times.append(seconds)
            inline.justify_line = plain
            without_times.append(render_seconds(job, work / "b.pdf")[0])
        inline.justify_line = patched
        median, base = statistics.median(with_times), statistics.median(without_times)
        print(
            f"| {job.issue_id} | {pages} | {median:.2f} | {min(with_times):.2f}–{max(with_times):.2f}"
            f" | {base:.2f} | {100 * (median / base - 1):+.0f} % |"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of the process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
