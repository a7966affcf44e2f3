"""The reload channel: server-sent events from the preview to every open page.

Builds and PDF renders finish on other threads; `publish` hands each event to the
server's event loop, which copies it into the queue of every connected page. The
latest event of each kind is kept and replayed to a page when it connects, so a
page opened (or reconnected) after a failed build still shows the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

HEARTBEAT = 15.0  # seconds; a comment line that lets the server notice closed pages
RETRY_MS = 500  # how soon a page reconnects after the server went away


@dataclass(frozen=True)
class Event:
    name: str  # "state" or "pdf"
    data: dict[str, Any]
    key: str = ""  # the latest event per (name, key) is replayed on connect

    def encode(self, *, replay: bool = False) -> bytes:
        data = {**self.data, "replay": True} if replay else self.data
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return f"event: {self.name}\ndata: {payload}\n\n".encode()


_CLOSE = None


class Channel:
    """Fans events out to the pages connected to `/__bulletin__/events`."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: set[asyncio.Queue[Event | None]] = set()
        self._latest: dict[tuple[str, str], Event] = {}
        self._lock = threading.Lock()
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the server runs on; events from other threads are handed to it."""
        self._loop = loop
        self.closed = False

    def publish(self, event: Event) -> None:
        """Safe from any thread."""
        with self._lock:
            self._latest[(event.name, event.key)] = event
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # RuntimeError: the loop closed in between, so nobody is listening
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._deliver, event)

    def latest(self) -> list[Event]:
        with self._lock:
            return list(self._latest.values())

    def close(self) -> None:
        """End every open stream, so the server can stop without waiting for pages."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._close)

    def _deliver(self, event: Event | None) -> None:
        for queue in self._queues:
            queue.put_nowait(event)

    def _close(self) -> None:
        self.closed = True
        self._deliver(_CLOSE)

    async def stream(self) -> AsyncIterator[bytes]:
        """One page's event stream: what is known now, then every new event."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            for event in self.latest():
                yield event.encode(replay=True)
            while not self.closed:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if event is _CLOSE:
                    return
                yield event.encode()
        finally:
            self._queues.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._queues)
