"""Issue PDFs in the preview, with a fake PDF maker: made on demand, re-made after
edits of their issue, announced to the pages, and never in the way of the HTML."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bulletin.serve.app import create_app
from tests.serving import WAIT, FakeSite, eventually


class FakePdfs:
    """Writes a tiny PDF-like file per call; can fail, say an issue is missing, or wait."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.made = 0
        self.results: dict[str, dict] = {}
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def __call__(self, issue_id: str, target: Path) -> dict:
        self.calls.append(issue_id)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT)
        if issue_id in self.results:
            return self.results[issue_id]
        self.made += 1
        target.write_bytes(f"%PDF-fake {issue_id} #{self.made}".encode())
        return {"status": "ok", "pages": 1, "warnings": []}


@pytest.fixture
def setup(tmp_path):
    root = tmp_path / "bulletin"
    fake = FakeSite(tmp_path / "preview" / "site")
    pdfs = FakePdfs()
    app = create_app(fake, fake.site, root=root, make_pdf=pdfs, pdf_folder=tmp_path / "pdf")
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield root, client, pdfs


def changed(client, *paths: Path) -> None:
    preview = client.app.state.preview
    preview.request(frozenset(paths))
    assert preview.wait_idle(WAIT)


def latest_pdf_event(client, issue_id: str) -> dict | None:
    for event in client.app.state.channel.latest():
        if event.name == "pdf" and event.key == issue_id:
            return event.data
    return None


def test_the_pages_of_an_issue_tell_the_script_their_issue(setup):
    _, client, _ = setup
    fake_site = client.app.state.preview.builder
    fake_site.pages["issues/2024-01/first.html"] = "<html><body>文章</body></html>"
    changed(client)
    assert 'data-issue="2024-01"' in client.get("/issues/2024-01/first.html").text
    assert "data-issue" not in client.get("/").text


def test_a_pdf_is_made_when_first_asked_for_and_then_reused(setup):
    _, client, pdfs = setup
    response = client.get("/issues/2024-01/2024-01.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == b"%PDF-fake 2024-01 #1"
    assert client.get("/issues/2024-01/2024-01.pdf").content == b"%PDF-fake 2024-01 #1"
    assert pdfs.calls == ["2024-01"]


def test_an_edit_of_the_issue_remakes_its_pdf_and_tells_the_pages(setup):
    root, client, pdfs = setup
    changed(client, root / "issues/2024-01/first.md")
    eventually(lambda: (latest_pdf_event(client, "2024-01") or {}).get("status") == "ready")
    assert latest_pdf_event(client, "2024-01")["url"] == "/issues/2024-01/2024-01.pdf"
    assert client.get("/issues/2024-01/2024-01.pdf").content == b"%PDF-fake 2024-01 #1"
    assert pdfs.calls == ["2024-01"]


def test_only_the_pdfs_that_depend_on_a_change_are_remade(setup):
    root, client, pdfs = setup
    service = client.app.state.pdfs
    first = client.get("/issues/2024-01/2024-01.pdf").content
    client.get("/issues/2024-02/2024-02.pdf")
    pdfs.calls.clear()
    changed(client, root / "issues/2024-02/other.md")
    eventually(lambda: pdfs.calls and service.idle)
    assert pdfs.calls == ["2024-02"]
    changed(client, root / "issues/2024-03/unseen.md")  # an issue nobody looked at yet: made
    eventually(lambda: len(pdfs.calls) == 2 and service.idle)
    assert pdfs.calls[1] == "2024-03"
    pdfs.calls.clear()
    changed(client, root / "themes/default/static/css/print.css")  # shared: every PDF in use
    eventually(lambda: len(pdfs.calls) == 3 and service.idle)
    assert sorted(pdfs.calls) == ["2024-01", "2024-02", "2024-03"]
    assert client.get("/issues/2024-01/2024-01.pdf").content != first


def test_a_failed_pdf_says_why_and_a_missing_issue_is_not_found(setup):
    _, client, pdfs = setup
    pdfs.results["2024-01"] = {"status": "failed", "problems": ["print.css: no such file"]}
    pdfs.results["2099-09"] = {"status": "missing"}
    response = client.get("/issues/2024-01/2024-01.pdf")
    assert response.status_code == 500
    assert "print.css: no such file" in response.text
    assert client.get("/issues/2099-09/2099-09.pdf").status_code == 404
    assert client.get("/issues/..%2f/..%2f.pdf").status_code == 404


def test_a_slow_pdf_does_not_hold_up_the_html(setup):
    root, client, pdfs = setup
    fake_site = client.app.state.preview.builder
    pdfs.gate = threading.Event()
    changed(client, root / "issues/2024-01/first.md")
    assert pdfs.entered.wait(WAIT)  # the PDF is being made, and held there
    fake_site.pages["index.html"] = "<html><body>新的首页</body></html>"
    changed(client, root / "issues/2024-01/first.md")
    assert "新的首页" in client.get("/").text
    assert client.app.state.preview.state.good == 3
    assert latest_pdf_event(client, "2024-01")["status"] == "rendering"
    pdfs.gate.set()
    eventually(lambda: latest_pdf_event(client, "2024-01")["status"] == "ready")
