"""The command line: a click group, one function per command, no build logic here.

Each command imports what it uses when it runs: `bulletin build` on an output that is
up to date takes a fraction of a second, and importing everything would double it.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bulletin import __version__
from bulletin.errors import BulletinError, Problem, Report, Severity
from bulletin.schedule import Visibility

if TYPE_CHECKING:
    from rich.console import Console

    from bulletin.result import BuildResult


@cache
def console() -> Console:
    """Messages, warnings and summaries go to stderr; rich is imported when one is due."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


class Now(click.ParamType):
    """--now 2024-02-01T09:00; without an offset it is read in the bulletin's time zone."""

    name = "datetime"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date and time like 2024-02-01T09:00", param, ctx)


def run() -> None:
    """The `bulletin` program. When the command is done and nothing runs beside it,
    the process ends without tearing the interpreter down: freeing a loaded archive
    object by object took 30 ms, a tenth of a rebuild after one edit. The exit
    handlers still run and the streams are flushed; only the teardown is skipped."""
    try:
        main()
    except SystemExit as done:
        if not isinstance(done.code, int | None) or not _may_skip_teardown():
            raise
        atexit._run_exitfuncs()  # the interpreter's own exit would run them
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # None: the descriptor was closed
                    stream.flush()
        except (OSError, ValueError):
            raise done from None  # the interpreter's exit reports the failed flush
        os._exit(done.code or 0)


def _may_skip_teardown() -> bool:
    """Not while other threads or worker processes run (a normal exit waits for
    them), under a profiler or tracer (they report at the end), or once WeasyPrint
    was loaded (a PDF build takes seconds; its objects clean up in `__del__`)."""
    if threading.active_count() > 1 or sys.getprofile() or sys.gettrace():
        return False
    if "weasyprint" in sys.modules:
        return False
    if "multiprocessing" in sys.modules:
        import multiprocessing

        return not multiprocessing.active_children()
    return True


def project_root(ctx: click.Context) -> Path:
    return ctx.find_root().params["project"]


def now_option(function):
    return click.option(
        "--now",
        type=Now(),
        default=None,
        help="Pretend it is this moment (2024-02-01T09:00); default: the real clock.",
    )(function)


def visibility_options(function):
    function = now_option(function)
    function = click.option("--drafts", is_flag=True, help="Include draft issues.")(function)
    return click.option(
        "--future", is_flag=True, help="Include issues whose publish time has not come."
    )(function)


def _visibility(now, drafts, future) -> Visibility:
    return Visibility(now or datetime.now(UTC), drafts=drafts, future=future)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="The bulletin's folder (where bulletin.yaml is). Default: the current folder.",
)
@click.version_option(__version__, prog_name="bulletin")
def main(project: Path) -> None:
    """Build a periodic information bulletin: a static website and a print PDF per issue."""


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the site. Default: site/ in the bulletin's folder.",
)
@click.option("--no-pdf", is_flag=True, help="Skip the issue PDFs (faster).")
@click.option(
    "--no-cache", is_flag=True, help="Render every PDF afresh, ignoring .bulletin-cache/."
)
@visibility_options
@click.pass_context
def build(ctx, output, no_pdf, no_cache, now, drafts, future) -> None:
    """Build the website and the PDF of every issue."""
    from bulletin.build import build as run_build

    root = project_root(ctx)
    output = output or root / "site"
    progress = _PdfProgress()
    try:
        result = run_build(
            root,
            output,
            _visibility(now, drafts, future),
            pdf=not no_pdf,
            progress=progress.update,
            use_cache=not no_cache,
        )
    finally:
        progress.stop()
    _print_warnings(result.warnings, root)
    _print_summary(result, root)


class _PdfProgress:
    """A progress bar shown from the first PDF on: its refresh thread would keep the
    build from forking its workers for the pages, and most builds render no PDF."""

    def __init__(self) -> None:
        self.bar = None

    def update(self, issue_id: str, done: int, total: int) -> None:
        if self.bar is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("rendering PDFs"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console(),
                transient=True,
            )
            self.task = self.bar.add_task("", total=total)
            self.bar.start()
        self.bar.update(self.task, completed=done, total=total, description=issue_id)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@main.command()
@now_option
@click.pass_context
def check(ctx, now) -> None:
    """Validate everything, drafts and future issues too, and render every page in
    memory; write nothing."""
    from bulletin.build import check as run_check
    from bulletin.publish.checks import publishing_problems

    root = project_root(ctx)
    result = run_check(root, _visibility(now, drafts=True, future=True))
    problems = publishing_problems(root, result.bulletin, _visibility(now, False, False).now)
    warnings = result.warnings + problems
    if any(p.severity is Severity.ERROR for p in problems):
        raise BulletinError(warnings, root)
    _print_warnings(warnings, root)
    bulletin = result.bulletin
    console().print(
        f"[green]ok[/]: {len(bulletin.issues)} issues, {len(bulletin.articles)} articles, "
        f"{len(result.pages)} pages render; {len(warnings)} warning(s)"
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0: any free port.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the preview in a browser.")
@click.option("--poll", is_flag=True, help="Poll for changes (file systems without events).")
@click.option("--no-pdf", is_flag=True, help="Do not make issue PDFs in the preview.")
@click.pass_context
def serve(ctx, host, port, open_browser, poll, no_pdf) -> None:
    """Preview the bulletin, drafts and scheduled issues included, rebuilding and
    reloading the open pages on every save. Builds into a private folder, never site/."""
    from bulletin.serve.server import serve as run  # starlette and uvicorn: only here

    run(
        project_root(ctx),
        host=host,
        port=port,
        open_browser=open_browser,
        poll=poll,
        pdf=not no_pdf,
        console=console(),
    )


@main.command()
@click.pass_context
def fonts(ctx) -> None:
    """Show which installed font serves each print role, and content characters no
    installed font covers."""
    from rich.console import Console
    from rich.table import Table

    from bulletin.build import load
    from bulletin.render import fonts as font_roles

    root = project_root(ctx)
    loaded = load(root, _visibility(None, drafts=True, future=True))
    table = Table("role", "stack (first installed wins)", "serving font", "file")
    for role, stack in font_roles.role_stacks(loaded.theme.settings).items():
        font = font_roles.serving_font(stack)
        table.add_row(
            role,
            ", ".join(stack),
            font.family if font else "[red]none installed[/]",
            font.file if font else "",
        )
    Console(highlight=False).print(table)
    missing = font_roles.tofu(loaded.bulletin.articles)
    for char, articles in sorted(missing.items()):
        names = ", ".join(str(a.path.relative_to(root)) for a in articles)
        console().print(f"[red]no font covers {char!r} (U+{ord(char):04X})[/]: {names}")
    if missing:
        raise SystemExit(1)
    click.echo("every character of the content is covered by an installed font")


def project_option(function):
    """-C DIR after the command too (`bulletin publish -C DIR`), handy in crontabs."""
    return click.option(
        "-C",
        "--project",
        "subproject",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The bulletin's folder (same as `bulletin -C DIR …`).",
    )(function)


@main.command()
@project_option
@now_option
@click.pass_context
def schedule(ctx, subproject, now) -> None:
    """Show every issue with its publish time (local and UTC) and state, the next
    publish time, and warnings about the schedule."""
    from rich.console import Console
    from rich.table import Table

    from bulletin.publish.overview import overview
    from bulletin.publish.times import distance, local, utc

    root = subproject or project_root(ctx)
    view = overview(root, _visibility(now, False, False).now)
    table = Table("issue", "", "status", "publish time", "UTC", "state", "note")
    colours = {"due": "yellow", "failed": "red", "published": "green", "publishing": "cyan"}
    for row in view.rows:
        at = (local(row.at, view.zone), utc(row.at)) if row.at else ("—", "—")
        state = f"[{colours[row.state]}]{row.state}[/]" if row.state in colours else row.state
        key = row.key if row.status else f"  └ {row.key}"
        table.add_row(key, row.label, row.status, *at, state, row.note)
    out = Console(highlight=False, width=None if console().is_terminal else 200)
    out.print(table)
    if view.next_due:
        keys = ", ".join(view.next_keys)
        out.print(
            f"next: {local(view.next_due, view.zone)} ({utc(view.next_due)}), "
            f"{distance(view.next_due, view.now)}: {keys}",
            markup=False,
        )
    else:
        out.print("next: nothing scheduled")
    _print_warnings(view.problems, root)
    if view.errors:
        raise SystemExit(1)


@main.command()
@click.option("--watch", is_flag=True, help="Stay running: publish each issue at its time.")
@click.option("-v", "--verbose", is_flag=True, help="Also say when nothing is due.")
@project_option
@now_option
@click.pass_context
def publish(ctx, watch, verbose, subproject, now) -> None:
    """Publish what is due: build the site, deploy it, log it, e-mail new issues.

    Quiet when nothing is due, so cron can run it every minute. With --watch it stays
    running and publishes each issue at its time (--now then starts the clock there)."""
    from bulletin.publish.publisher import publish as publish_due
    from bulletin.publish.watch import watch_forever

    root = subproject or project_root(ctx)
    if watch:
        watch_forever(root, now, lambda line: click.echo(line))
        return
    outcome = publish_due(root, now or datetime.now(UTC))
    if outcome.idle and not verbose:
        return
    _print_warnings(outcome.warnings, root)
    for line in outcome.lines():
        click.echo(line, err=not outcome.ok and line.startswith(("failed", "e-mail stopped")))
    if not outcome.ok:
        raise SystemExit(1)


@main.group()
def new() -> None:
    """Create a new issue or article from a valid template."""


@new.command("issue")
@click.option("--year", type=int, help="Default: this year.")
@click.option("--number", type=int, help="Default: the next number in the year.")
@now_option
@click.pass_context
def new_issue(ctx, year, number, now) -> None:
    """Create issues/<year>-<number>/issue.yaml (a draft)."""
    from bulletin import scaffold

    config = _config(ctx)
    clock = Visibility(now or datetime.now(UTC)).in_zone(config.timezone)
    moment = clock.now.astimezone(config.timezone)
    folder = scaffold.new_issue(config, moment, year, number)
    click.echo(f"created {folder / 'issue.yaml'}")


@new.command("article")
@click.argument("issue")
@click.argument("title")
@click.option("--slug", help="The file name and URL name; default: from the title, or 'article'.")
@click.pass_context
def new_article(ctx, issue, title, slug) -> None:
    """Create an article in ISSUE (e.g. 2024-03) titled TITLE, and list it in the issue."""
    from bulletin import scaffold

    path = scaffold.new_article(_config(ctx), issue, title, slug)
    click.echo(f"created {path}")


def _config(ctx):
    from bulletin.load.config import load_config

    report = Report()
    config = load_config(project_root(ctx), report)
    report.raise_if_errors()
    return config


def _print_warnings(warnings: list[Problem], root: Path) -> None:
    for problem in warnings:
        console().print(problem.format(root), style="yellow", markup=False)


def _print_summary(result: BuildResult, root: Path) -> None:
    """A few aligned lines on stderr, plain text: a build that had nothing to do
    should not spend longer on importing a table renderer than on building."""
    cached = sum(p.cached for p in result.pdfs)
    rows = {
        "issues": str(result.issues),
        "articles": str(result.articles),
        "pages": f"{len(result.pages)} ({len(result.written)} written, "
        f"{len(result.deleted)} deleted)",
        "PDFs": f"{len(result.pdfs)} ({result.pdf_pages} pages, {cached} unchanged)",
        "time": f"{result.seconds:.2f} s",
        "warnings": str(len(result.warnings)),
    }
    lines = [f"{result.title} → {result.output}"]
    lines += [f"  {name:<9} {value}" for name, value in rows.items()]
    click.echo("\n".join(lines), err=True)
