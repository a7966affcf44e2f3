"""The preview's web app: the last good build's files, the live script, the events.

`create_app` assembles everything around a builder callable, so the app can be
tested with a fake builder and a faster build drops in unchanged. Files are served
only from the preview folder; HTML gets the live script on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bulletin.serve.channel import Channel, Event
from bulletin.serve.overlay import EVENTS_URL, SCRIPT_URL, inject, live_script, waiting_page
from bulletin.serve.pdfs import ISSUE_ID, NoSuchIssue, PdfFailed, PdfMaker, PdfPreview
from bulletin.serve.rebuild import Builder, Outcome, Preview
from bulletin.serve.safety import HostPolicy, site_file

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
BUILD_WAIT = 60.0  # seconds a request for a missing file waits for a running build
PDF_WAIT = 300.0  # seconds a request for a PDF waits for its render
_PDF_URL = re.compile(r"/issues/([^/]+)/([^/]+)\.pdf")

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".pdf": "application/pdf",
}


def media_type(path: Path) -> str:
    """Fixed, not from the system's mime.types, which differ between machines."""
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")


class HostGuard:
    """Refuses requests whose Host header is not this machine (DNS rebinding)."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host")
            if not self.policy.allows(host):
                response = PlainTextResponse(
                    "bulletin serve: refused a request for another host name (DNS rebinding?)",
                    status_code=400,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    builder: Builder,
    site: Path,
    *,
    root: Path | None = None,
    make_pdf: PdfMaker | None = None,
    pdf_folder: Path | None = None,
    hosts: HostPolicy | None = None,
    on_build: Callable[[Outcome], None] | None = None,
) -> Starlette:
    """The preview app for the site that `builder` writes into `site`.

    The first build runs when the app starts; later builds run when
    `app.state.preview.request(changes)` is called (by the watcher). With `make_pdf`,
    issue PDFs are made on demand into `pdf_folder` and kept fresh after edits."""
    channel = Channel()
    preview = Preview(builder, site, root=root)
    pdfs = None
    if make_pdf is not None:
        pdfs = PdfPreview(
            pdf_folder or site.parent / "pdf",
            make_pdf,
            root=root or site.parent,
            publish=channel.publish,
        )
        preview.listen(pdfs.after_build)
    preview.listen(lambda outcome: channel.publish(Event("state", outcome.state.as_data())))
    if on_build is not None:
        preview.listen(on_build)

    def halt() -> None:
        """Let go of everything that keeps a connection open (event streams, requests
        waiting for a build or a PDF), so the server can stop at once. Idempotent."""
        channel.close()
        preview.stop(wait=0)
        if pdfs is not None:
            pdfs.close()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        channel.bind(asyncio.get_running_loop())
        await anyio.to_thread.run_sync(preview.start)
        try:
            yield
        finally:
            halt()
            preview.stop()

    async def events(request: Request) -> Response:
        headers = {**NO_STORE, "X-Accel-Buffering": "no"}
        return StreamingResponse(channel.stream(), media_type="text/event-stream", headers=headers)

    async def script(request: Request) -> Response:
        return Response(live_script(), media_type=MEDIA_TYPES[".js"], headers=NO_STORE)

    async def page(request: Request) -> Response:
        url_path: str = request.scope["path"]
        if pdfs is not None:
            match = _PDF_URL.fullmatch(url_path)
            if match and match[1] == match[2]:
                return await _pdf(pdfs, match[1])
        found = _locate(site, url_path)
        if found is None and preview.busy:
            # the site may be between two builds: wait for the new one, then look again
            await anyio.to_thread.run_sync(preview.wait_idle, BUILD_WAIT)
            found = _locate(site, url_path)
        if isinstance(found, str):
            query = request.url.query
            return RedirectResponse(found + (f"?{query}" if query else ""), 301, headers=NO_STORE)
        if found is None:
            return _not_found(site, preview)
        try:
            body = found.read_bytes()
        except OSError:
            return _not_found(site, preview)
        if found.suffix == ".html":
            issue = _issue_of(url_path) if pdfs is not None else ""  # for the PDF notice
            body = inject(body, version=preview.state.version, issue=issue)
        return Response(body, headers={**NO_STORE, "Content-Type": media_type(found)})

    app = Starlette(
        routes=[
            Route(EVENTS_URL, events),
            Route(SCRIPT_URL, script),
            Route("/{path:path}", page, methods=["GET", "HEAD"]),
        ],
        middleware=[Middleware(HostGuard, policy=hosts or HostPolicy())],
        lifespan=lifespan,
    )
    app.state.preview = preview
    app.state.channel = channel
    app.state.pdfs = pdfs
    app.state.halt = halt
    return app


def _locate(site: Path, url_path: str) -> Path | str | None:
    """The file to serve, a URL to redirect to (a folder named without its slash),
    or None (missing, or refused: outside the preview folder)."""
    target = site_file(site, url_path)
    if target is None:
        return None
    if target.is_dir():
        if not url_path.endswith("/"):
            return url_path + "/"
        target = site_file(site, url_path + "index.html")  # the index may be a link too
    return target if target is not None and target.is_file() else None


def _not_found(site: Path, preview: Preview) -> Response:
    """The site's own 404 page, with the live script: it reloads when the page appears."""
    state = preview.state
    if state.good == 0:
        return Response(waiting_page(state.version), 503, headers=NO_STORE, media_type="text/html")
    page = site / "404.html"
    try:
        body = page.read_bytes()
    except OSError:
        body = b"<!doctype html><title>404</title><p>404: not found</p>"
    body = inject(body, version=state.version, base="/")
    return Response(body, 404, headers={**NO_STORE, "Content-Type": MEDIA_TYPES[".html"]})


def _issue_of(url_path: str) -> str:
    parts = url_path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "issues" and ISSUE_ID.fullmatch(parts[1]):
        return parts[1]
    return ""


async def _pdf(pdfs: PdfPreview, issue_id: str) -> Response:
    """The issue's PDF as of the latest good build, made now if it is not yet."""
    try:
        future = pdfs.request(issue_id)
        path = await asyncio.wait_for(asyncio.wrap_future(future), PDF_WAIT)
        body = await anyio.to_thread.run_sync(path.read_bytes)
    except NoSuchIssue:
        return PlainTextResponse(f"no issue {issue_id!r} in this bulletin", 404, headers=NO_STORE)
    except PdfFailed as exc:
        text = f"the PDF of {issue_id} could not be made:\n\n" + "\n".join(exc.problems)
        return PlainTextResponse(text, 500, headers=NO_STORE)
    except TimeoutError:
        headers = {**NO_STORE, "Retry-After": "5"}
        return PlainTextResponse("the PDF is still being made; try again", 503, headers=headers)
    headers = {**NO_STORE, "Content-Disposition": f'inline; filename="{issue_id}.pdf"'}
    return Response(body, media_type="application/pdf", headers=headers)
