"""Time the preview: from a save to the reload event reaching an open page.

Runs `bulletin serve` on a copy of the sample bulletin and on a generated bulletin
(bench/generate.py), opens two pages in headless Chromium (Debian's) and saves an
article of the latest issue N times, atomically, as editors do. For each save:

- event: from the save until the "state" event of the new build arrives in a page
  (an EventSource in a page without the live script, so it is never reloaded);
- visible: from the save until the home page, reloaded by its live script, shows
  the new title.

Both clocks are the machine's wall clock (the page's Date.now()), in milliseconds.
Saves are spaced out so that each is a burst of its own.

    .venv/bin/python bench/bench_serve.py [--edits 20] [--articles 2000] [--pdf] [--text]
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
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.generate import articles, write_bulletin  # noqa: E402

BULLETIN = Path(sys.executable).with_name("bulletin")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
LISTEN = """() => {
  window.arrivals = [];
  const source = new EventSource("/__bulletin__/events");
  source.addEventListener("state", (e) => {
    const state = JSON.parse(e.data);
    if (!state.replay) window.arrivals.push([Date.now(), state.version, state.ok]);
  });
}"""


def sample_copy(work: Path) -> Path:
    root = work / "sample"
    root.mkdir()
    shutil.copy(REPO / "bulletin.yaml", root)
    shutil.copytree(REPO / "issues", root / "issues")
    return root


def generated(work: Path, count: int) -> Path:
    root = work / f"generated-{count}"
    write_bulletin(root, articles(count, seed=1))
    return root


def latest_article(root: Path) -> Path:
    issue = sorted((root / "issues").iterdir())[-1]
    listed = (issue / "issue.yaml").read_text(encoding="utf-8")
    stem = re.search(r"^\s+-\s+(\S+)\s*$", listed, re.MULTILINE).group(1)
    return issue / f"{stem}.md"


class Server:
    def __init__(self, root: Path, pdf: bool) -> None:
        args = [str(BULLETIN), "-C", str(root), "serve", "--port", "0"]
        if not pdf:
            args.append("--no-pdf")
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.log: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        line = self.process.stdout.readline()
        match = re.search(r"http://\S+/", line)
        if not match:
            raise SystemExit(f"bulletin serve did not start: {line}{''.join(self.log)}")
        self.url = match.group(0)

    def _drain(self) -> None:
        for line in self.process.stderr:
            self.log.append(line)

    def build_seconds(self) -> list[float]:
        return [
            float(m.group(1)) for line in self.log if (m := re.search(r"built in ([\d.]+) s", line))
        ]

    def stop(self) -> float:
        started = time.perf_counter()
        self.process.terminate()
        self.process.wait(30)
        return time.perf_counter() - started


def measure(root: Path, edits: int, pdf: bool, browser, text: bool = False) -> dict:
    """`text`: each save adds a paragraph to the article (its page shows it) instead
    of changing its title (the contents, the home page and the lists show that)."""
    article = latest_article(root)
    original = article.read_text(encoding="utf-8")
    server = Server(root, pdf)
    try:
        listener = browser.new_page()
        listener.goto(server.url + "assets/css/site.css")
        listener.evaluate(LISTEN)
        listener.wait_for_function("() => window.arrivals !== undefined")
        home = browser.new_page()
        shown_on = f"issues/{article.parent.name}/{article.stem}.html" if text else ""
        home.goto(server.url + shown_on)
        time.sleep(1.0)  # let the first build's after-effects settle (bench only)
        events, visible = [], []
        for n in range(edits):
            title = f"基准测试修改第{n}次"
            if text:
                changed = original.rstrip("\n") + f"\n\n{title}。\n"
            else:
                changed = re.sub(r"^title: .*$", f"title: {title}", original, count=1, flags=re.M)
            temporary = article.with_name(f".{article.name}.tmp")
            temporary.write_text(changed, encoding="utf-8")
            before = listener.evaluate("window.arrivals.length")
            os.replace(temporary, article)
            saved = time.time() * 1000
            listener.wait_for_function(f"window.arrivals.length > {before}", timeout=120_000)
            arrived = listener.evaluate(f"window.arrivals[{before}][0]")
            if text:
                home.get_by_text(title).wait_for(timeout=120_000)
            else:
                home.locator(".contents-list", has_text=title).wait_for(timeout=120_000)
            shown = time.time() * 1000
            events.append(arrived - saved)
            visible.append(shown - saved)
            time.sleep(0.3)  # spaced out: each save is a burst of its own
        builds = server.build_seconds()
    except Exception:
        print("".join(server.log), file=sys.stderr)  # a failed build says why
        raise
    finally:
        stop = server.stop()
        article.write_text(original, encoding="utf-8")
    return {
        "events": events,
        "visible": visible,
        "builds": builds[1:],
        "first": builds[0],
        "stop": stop,
    }


def row(name: str, result: dict) -> str:
    e, v, b = result["events"], result["visible"], result["builds"]
    return (
        f"| {name} | {statistics.median(e):.0f} | {max(e):.0f} | {statistics.median(v):.0f} | "
        f"{max(v):.0f} | {statistics.median(b) * 1000:.0f} | {result['first']:.2f} | {result['stop']:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--articles", type=int, default=2000, help="0: the sample only")
    parser.add_argument("--pdf", action="store_true", help="also make PDFs in the background")
    parser.add_argument(
        "--text", action="store_true", help="add a paragraph each save, not a new title"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    sample = sample_copy(work)
    cases = [(f"sample ({len(list(sample.glob('issues/*/*.md')))} articles)", sample)]
    if args.articles:
        cases.append((f"generated ({args.articles} articles)", generated(work, args.articles)))
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    print(
        f"{datetime.now():%Y-%m-%d}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PDFs {'on' if args.pdf else 'off'}, {args.edits} edits "
        f"({'a paragraph added' if args.text else 'a new title'} each)"
    )
    print(
        "| bulletin | event median ms | event worst ms | visible median ms | visible worst ms "
        "| build median ms | first build s | stop s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            for name, root in cases:
                result = measure(root, args.edits, args.pdf, browser, args.text)
                print(row(name, result), flush=True)
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
