"""`bulletin serve`: build into a private preview folder, serve it with uvicorn, watch
the sources, rebuild on change. Ctrl-C or SIGTERM stops everything within a second
and removes the preview folder."""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console
from starlette.applications import Starlette

from bulletin.build import Builder
from bulletin.errors import BulletinError
from bulletin.render import builtin_themes_dir
from bulletin.schedule import Visibility
from bulletin.serve.app import create_app
from bulletin.serve.pdfs import ChildProcess, make_issue_pdf
from bulletin.serve.rebuild import Changes, Outcome
from bulletin.serve.safety import ALL_INTERFACES, HostPolicy
from bulletin.serve.watcher import Sources, Watcher

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def site_builder(root: Path, site: Path, *, pdf_links: bool = True) -> Callable[[Changes], Any]:
    """The preview's builder: one long-lived Builder (its caches and compiled templates
    stay warm between saves), drafts and future issues included, at the moment of each
    build. PDFs are made in the background, so pages link them but the build does not
    make them. `changes` is not needed: the build finds what changed by itself."""
    builder = Builder(root, persist=False)

    def run(changes: Changes) -> Any:
        visibility = Visibility(datetime.now(UTC), drafts=True, future=True)
        return builder.build(site, visibility, pdf=False, pdf_links=pdf_links)

    return run


def exposure_warning(host: str) -> str | None:
    """Said when the preview (drafts included) can be read from other machines."""
    if host in ALL_INTERFACES:
        return (
            f"warning: bound to all interfaces ({host or '*'}): anyone on your network can "
            "read this preview, drafts included; use --host 127.0.0.1 to keep it to yourself"
        )
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() == "localhost"
    if not loopback:
        return f"warning: bound to {host}: other machines can read this preview, drafts included"
    return None


def open_socket(host: str, port: int) -> socket.socket:
    """Bind before serving: a busy port is reported plainly, and port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6 and host == "::":
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BulletinError.single(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="another program uses this port: choose another with --port (0 picks a free one)",
        ) from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ALL_INTERFACES else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


class _Server(uvicorn.Server):
    """uvicorn, with two changes for a tool run in a terminal: stopping first lets go
    of event streams and waiting requests (so open pages do not hold up the exit), and
    the stop signal is not raised again afterwards (so the preview folder is removed)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self.on_ready()

    def handle_exit(self, sig: int, frame: Any) -> None:
        app = self.config.app
        if isinstance(app, Starlette):
            # not here: a signal handler may interrupt code that holds the locks halt() takes
            threading.Thread(target=app.state.halt, name="bulletin-halt", daemon=True).start()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    poll: bool = False,
    pdf: bool = True,
    console: Console | None = None,
) -> None:
    """Run the preview until Ctrl-C or SIGTERM."""
    console = console or Console(stderr=True, highlight=False)
    root = root.resolve()
    if not (root / "bulletin.yaml").is_file():
        raise BulletinError.single(
            f"no bulletin.yaml in {root}", hint="run this in a bulletin's folder, or use -C DIR"
        )
    sock = open_socket(host, port)
    url = url_of(sock, host)
    warning = exposure_warning(host)
    if warning:
        console.print(warning, style="yellow", markup=False)
    preview_dir = Path(tempfile.mkdtemp(prefix="bulletin-preview-"))
    site = preview_dir / "site"
    make_pdf = ChildProcess(functools.partial(make_issue_pdf, root)) if pdf else None
    console.print(f"building {root} into {site} …", markup=False)
    app = create_app(
        site_builder(root, site, pdf_links=pdf),
        site,
        root=root,
        make_pdf=make_pdf,
        pdf_folder=preview_dir / "pdf",
        hosts=HostPolicy(host),
        on_build=functools.partial(report, console, root),
    )
    sources = Sources(root, extra=[builtin_themes_dir()], ignore=[preview_dir])
    watcher = Watcher(sources, app.state.preview.request, poll=poll)

    def ready() -> None:
        print(f"serving the preview at {url}  (Ctrl-C stops)", flush=True)
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=1,
        lifespan="on",
        access_log=False,
    )
    server = _Server(config, on_ready=ready)
    watcher.start()
    try:
        server.run(sockets=[sock])
    finally:
        watcher.stop()
        sock.close()
        shutil.rmtree(preview_dir, ignore_errors=True)
        if app.state.preview.running:
            remove_after_exit(preview_dir)  # the build thread writes until the process ends
        console.print("preview stopped", markup=False)


_REMOVE = """
import os, shutil, sys, time
pid, folder = int(sys.argv[1]), sys.argv[2]
for _ in range(600):
    try:
        os.kill(pid, 0)
    except OSError:
        break
    time.sleep(0.1)
shutil.rmtree(folder, ignore_errors=True)
"""


def remove_after_exit(folder: Path, pid: int | None = None) -> subprocess.Popen:
    """Remove `folder` once process `pid` (this one) has ended, waiting at most a
    minute: a build stopped half-way cannot be interrupted, and must not delay Ctrl-C."""
    return subprocess.Popen(
        [sys.executable, "-c", _REMOVE, str(pid or os.getpid()), str(folder)],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def report(console: Console, root: Path, outcome: Outcome) -> None:
    """One line per build in the terminal; the problems in full when it failed."""
    clock = datetime.now().strftime("%H:%M:%S")
    changed = sorted(_shown(p, root) for p in outcome.changes)
    what = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    what = f" ({what})" if what else ""
    if outcome.state.ok:
        console.print(f"{clock} built in {outcome.seconds:.2f} s{what}", markup=False)
        for warning in outcome.warnings:
            console.print(warning, style="yellow", markup=False)
        return
    console.print(f"{clock} build failed{what}; still serving the last good pages:", style="red")
    for problem in outcome.state.problems:
        where = f"{problem['where']}: " if problem["where"] else ""
        console.print(f"  {where}{problem['message']}", style="red", markup=False)
        if problem["hint"]:
            console.print(f"      hint: {problem['hint']}", markup=False)


def _shown(path: Path, root: Path) -> str:
    with contextlib.suppress(ValueError):
        return path.relative_to(root).as_posix()
    return str(path)
