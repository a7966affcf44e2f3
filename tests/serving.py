"""Helpers for the tests of `bulletin serve`: a fake builder, raw ASGI requests, a
bounded wait, and the real command run in a child process."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio

from bulletin.errors import BulletinError, Problem
from bulletin.write.output import Output

BULLETIN = Path(sys.executable).with_name("bulletin")
WAIT = 30.0  # seconds: generous, for a loaded two-core machine


def eventually(condition: Callable[[], Any], timeout: float = WAIT, what: str = "") -> Any:
    """Poll `condition` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what or condition}")
        time.sleep(0.01)


class FakeSite:
    """A builder that writes `pages` into the site folder through the real Output
    (all-or-nothing, as build() does), or raises `problems`; it records its calls
    and can be held at a gate to look at the server in the middle of a build."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.pages: dict[str, str | bytes] = {
            "index.html": "<!doctype html><html><head><title>首页</title></head>"
            "<body><h1>首页</h1></body></html>",
            "404.html": "<!doctype html><html><head></head><body><h1>找不到</h1></body></html>",
            "assets/css/site.css": "body { color: red }",
        }
        self.links: dict[str, Path] = {}  # symbolic links to make inside the site
        self.problems: list[Problem] | None = None
        self.crash: Exception | None = None
        self.calls: list[frozenset[Path]] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def __call__(self, changes: frozenset[Path]) -> None:
        self.calls.append(changes)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT), "the test never opened the gate"
        if self.crash is not None:
            raise self.crash
        if self.problems:
            raise BulletinError(self.problems)
        out = Output(self.site, None)
        for path, content in self.pages.items():
            out.write(path, content if isinstance(content, bytes) else content.encode(), "fake")
        out.commit()
        for path, target in self.links.items():
            link = self.site / path
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            os.symlink(target, link)


def raw_get(app: Any, raw_path: str, host: str = "127.0.0.1:8000") -> tuple[int, bytes]:
    """GET a path exactly as written, as a server passes it on (decoded once, with
    no clean-up): HTTP clients remove `..` segments before they send a request."""
    path, _, query = raw_path.partition("?")

    async def call() -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", host.encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }
        status = 0
        body = b""

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body += message.get("body", b"")

        await app(scope, receive, send)
        return status, body

    # in a thread of its own: Playwright's sync API may run an event loop in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, call).result()


class ServeProcess:
    """`bulletin serve` in a child process, with its output collected as it comes."""

    def __init__(self, root: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(BULLETIN), "-C", str(root), "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(
                target=self._read, args=(self.process.stdout, self.stdout), daemon=True
            ),
            threading.Thread(
                target=self._read, args=(self.process.stderr, self.stderr), daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()
        try:
            found = eventually(
                lambda: self.process.poll() is not None or self._url(), what="the server's URL"
            )
        except BaseException:
            self.kill()
            raise
        if found is True:
            raise AssertionError(f"bulletin serve exited: {self.output}")
        self.url: str = found

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()  # a failed test must not leave a server behind

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT)

    def _url(self) -> str | None:
        for line in self.stdout:
            match = re.search(r"http://\S+/", line)
            if match:
                return match.group(0)
        return None

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def builds(self) -> int:
        """Good builds so far, as the server's log tells."""
        return sum(1 for line in self.stderr if " built in " in line)

    def stop(self, sig: int = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        for reader in self._readers:
            reader.join(WAIT)
        return code


@contextlib.contextmanager
def serving(root: Path, *args: str) -> Iterator[ServeProcess]:
    with ServeProcess(root, *args) as server:
        yield server
        server.stop()


def atomic_write(path: Path, text: str) -> None:
    """Save as editors do: write a temp file beside it, then rename it over the original."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
