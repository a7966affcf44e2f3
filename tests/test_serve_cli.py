"""The `bulletin serve` command as a user runs it: start, requests over a real socket,
rebuilds, and stopping with Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import http.client
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bulletin.serve.server import exposure_warning, remove_after_exit
from tests.serving import ServeProcess, atomic_write, eventually, serving


def raw_request(url: str, target: str, host: str | None = None) -> tuple[int, bytes]:
    """A request line sent exactly as written (http.client does not tidy the path)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("GET", target, skip_host=True)
        connection.putheader("Host", host or parts.netloc)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def preview_folder(server: ServeProcess) -> Path:
    match = eventually(lambda: re.search(r"into (\S+) …", "".join(server.stderr)))
    return Path(match.group(1)).parent


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_it_cleanly_even_with_a_page_listening(folder, sig):
    folder.issue("2024-01")
    with ServeProcess(folder.root, "--no-pdf") as server:
        preview = preview_folder(server)
        assert (preview / "site" / "index.html").is_file()
        parts = urlsplit(server.url)
        listening = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        listening.request("GET", "/__bulletin__/events")
        stream = listening.getresponse()
        assert stream.status == 200 and stream.readline() == b"retry: 500\n"
        assert server.stop(sig) == 0
        listening.close()
    assert "Traceback" not in server.output
    assert "preview stopped" in server.output
    assert not preview.exists()  # the preview folder is removed
    assert not (folder.root / "site").exists()  # and the bulletin's own site/ never made


def test_stopping_during_a_rebuild_leaves_nothing_behind(folder):
    issue = folder.issue("2024-01", articles={f"a{n:03d}": f"第{n}篇文章" for n in range(400)})
    with ServeProcess(folder.root, "--no-pdf") as server:
        preview = preview_folder(server)
        config = (folder.root / "bulletin.yaml").read_text()
        folder.write("bulletin.yaml", config + "notice: 内部资料\n")
        atomic_write(issue / "a000.md", "---\ntitle: 改\n---\n\n正文。\n")
        # stop as soon as the rebuild is seen writing (if it was too quick: a plain stop)
        with contextlib.suppress(AssertionError):
            eventually(lambda: any(".new" in p.name for p in preview.rglob("*")), timeout=5)
        assert server.stop() == 0
    assert "Traceback" not in server.output
    eventually(lambda: not preview.exists(), what="the preview folder to be removed")


def test_a_folder_still_written_to_is_removed_once_its_writer_has_ended(tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    folder = tmp_path / "preview"
    (folder / "site").mkdir(parents=True)
    remover = remove_after_exit(folder, pid=writer.pid)
    (folder / "site" / "late.html").write_text("written after the server stopped")
    assert remover.poll() is None and folder.exists()  # waits while the writer lives
    writer.kill()
    writer.wait()
    assert remover.wait(30) == 0
    assert not folder.exists()


def test_requests_over_the_wire_are_checked(folder):
    folder.issue("2024-01")
    with serving(folder.root, "--no-pdf") as server:
        status, body = raw_request(server.url, "/")
        assert status == 200 and "第一篇文章".encode() in body
        for target in (
            "/../../../../../../etc/passwd",
            "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/%252e%252e/%252e%252e/%252e%252e/etc/passwd",
            "/..%2f..%2f..%2f..%2f..%2fetc/passwd",
            "//etc/passwd",
        ):
            status, body = raw_request(server.url, target)
            assert status == 404, target
            assert b"root:" not in body
        status, body = raw_request(server.url, "/", host="attacker.example:8000")
        assert status == 400 and "第一篇文章".encode() not in body


def test_polling_sees_a_change_too(folder):
    issue = folder.issue("2024-01")
    with serving(folder.root, "--no-pdf", "--poll") as server:
        atomic_write(issue / "first.md", "---\ntitle: 轮询发现的修改\n---\n\n正文。\n")
        eventually(lambda: server.builds() >= 2, what="a rebuild")
        status, body = raw_request(server.url, "/")
        assert status == 200 and "轮询发现的修改".encode() in body


def test_a_busy_port_is_reported_plainly(folder, cli):
    folder.issue("2024-01")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("-C", folder.root, "serve", "--port", port)
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "--port" in result.output


def test_a_folder_without_a_bulletin_is_reported(tmp_path, cli):
    result = cli("-C", tmp_path, "serve", "--port", "0")
    assert result.exit_code == 1
    assert "no bulletin.yaml" in result.output


def test_binding_beyond_this_machine_is_warned_about():
    assert "all interfaces" in exposure_warning("0.0.0.0")
    assert "all interfaces" in exposure_warning("::")
    assert "other machines" in exposure_warning("192.168.1.20")
    assert exposure_warning("127.0.0.1") is None
    assert exposure_warning("::1") is None
    assert exposure_warning("localhost") is None
    assert "other machines" in exposure_warning("preview.example.lan")
