"""The preview's ASGI app with a fake builder: what it serves, what it refuses, and
what it tells the open pages."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from bulletin.errors import Problem, Severity
from bulletin.serve.app import create_app
from bulletin.serve.overlay import SCRIPT_URL
from bulletin.serve.rebuild import Preview
from bulletin.serve.safety import HostPolicy
from tests.serving import WAIT, FakeSite, eventually, raw_get

SECRET = "TOP SECRET: outside the preview folder"


@pytest.fixture
def fake(tmp_path: Path) -> FakeSite:
    """The site is preview/site; preview/secret.txt is one `..` away from it."""
    outside = tmp_path / "preview" / "outside"
    outside.mkdir(parents=True)
    (outside / "secret.txt").write_text(SECRET)
    (tmp_path / "preview" / "secret.txt").write_text(SECRET)
    return FakeSite(tmp_path / "preview" / "site")


@pytest.fixture
def client(fake: FakeSite):
    app = create_app(fake, fake.site, root=fake.site.parent)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client


def rebuild(client: TestClient, changes=frozenset()) -> None:
    preview: Preview = client.app.state.preview
    preview.request(frozenset(changes))
    assert preview.wait_idle(WAIT)


def events(client: TestClient, count: int, then=None) -> list[tuple[str, dict]]:
    """The first `count` events of a page's stream; `then()` runs after the first."""
    found: list[tuple[str, dict]] = []
    with client.stream("GET", "/__bulletin__/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                found.append((name, json.loads(line[6:])))
                if len(found) == 1 and then is not None:
                    then()
                if len(found) == count:
                    break
    return found


# -- what is served ------------------------------------------------------------


def test_html_gets_the_live_script_and_nothing_else_does(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    version = client.app.state.preview.state.version
    assert f'<script src="{SCRIPT_URL}" data-version="{version}"></script></body>' in page.text
    css = client.get("/assets/css/site.css")
    assert css.text == "body { color: red }"
    script = client.get(SCRIPT_URL)
    assert script.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in script.text


def test_a_built_site_never_carries_the_live_script(sample_site):
    pages = list(sample_site.rglob("*.html"))
    assert pages
    assert not [p for p in pages if "__bulletin__" in p.read_text(encoding="utf-8")]


def test_without_pdfs_pages_get_no_pdf_notice(client, fake):
    fake.pages["issues/2024-01/index.html"] = "<html><body>本期</body></html>"
    rebuild(client)
    assert "data-issue" not in client.get("/issues/2024-01/").text


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("a.pdf", "application/pdf"),
        ("feed.xml", "application/xml; charset=utf-8"),
        ("logo.svg", "image/svg+xml"),
        ("font.woff2", "font/woff2"),
        ("site.css", "text/css; charset=utf-8"),
        ("search.js", "text/javascript; charset=utf-8"),
        ("photo.JPG", "image/jpeg"),
        ("data.bin", "application/octet-stream"),
    ],
)
def test_media_types(client, fake, name, media_type):
    fake.pages[f"files/{name}"] = b"\x00content"
    rebuild(client)
    response = client.get(f"/files/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == b"\x00content"


def test_a_folder_without_its_slash_is_redirected(client, fake):
    fake.pages["archive/index.html"] = "<html><body>往期</body></html>"
    rebuild(client)
    response = client.get("/archive?x=1", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/archive/?x=1"
    assert "往期" in client.get("/archive/").text


def test_a_missing_page_gets_the_sites_404_page_which_reloads_itself(client):
    response = client.get("/issues/2099-01/nothing.html")
    assert response.status_code == 404
    assert "找不到" in response.text
    assert '<head><base href="/">' in response.text  # its relative links work from here
    assert SCRIPT_URL in response.text


# -- what is refused -----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%252e%252e/secret.txt",
        "/%25252e%25252e/secret.txt",
        "/..%2fsecret.txt",
        "/..%252fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/..%255csecret.txt",
        "/index.html%00.css",
        "/%2500",
        "/.bulletin-site",
        "/leak.txt",
        "/out/secret.txt",
    ],
)
def test_paths_that_lead_out_of_the_preview_folder_are_refused(client, fake, raw):
    fake.links["leak.txt"] = fake.site.parent / "secret.txt"
    fake.links["out"] = fake.site.parent / "outside"
    rebuild(client)
    status, body = raw_get(client.app, raw)
    assert status == 404
    assert SECRET.encode() not in body


def test_absolute_paths_stay_inside_the_preview_folder(client, fake):
    secret = fake.site.parent / "secret.txt"
    for raw in ("/" + str(secret), "//" + str(secret), "/" + quote(str(secret), safe="")):
        status, body = raw_get(client.app, raw)
        assert status == 404, raw
        assert SECRET.encode() not in body


def test_a_link_that_stays_inside_is_served(client, fake):
    fake.links["home.html"] = Path("index.html")  # relative: the staging folder is moved
    rebuild(client)
    status, body = raw_get(client.app, "/home.html")
    assert status == 200
    assert "首页".encode() in body


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8000", True),
        ("localhost:8000", True),
        ("LOCALHOST", True),
        ("[::1]:8000", True),
        ("preview.localhost:8000", True),
        ("evil.example:8000", False),
        ("127.0.0.1.nip.io:8000", False),
        ("localhost.evil.example", False),
        ("127.0.0.1:80:80", False),
        ("", False),
    ],
)
def test_host_header_guards_against_dns_rebinding(client, host, allowed):
    status, body = raw_get(client.app, "/", host=host)
    assert (status == 200) is allowed
    if not allowed:
        assert status == 400
        assert "首页".encode() not in body


def test_bound_to_all_interfaces_the_machines_own_name_is_accepted():
    import socket

    name = socket.gethostname()
    assert HostPolicy("0.0.0.0").allows(f"{name}:8000")
    assert HostPolicy("0.0.0.0").allows("192.168.1.20:8000")
    assert not HostPolicy("127.0.0.1").allows(f"{name}.evil.example:8000")
    assert HostPolicy("preview.example").allows("preview.example:8000")


# -- builds, failures and the event stream -------------------------------------


def test_a_page_learns_the_state_when_it_connects(client):
    [(name, state)] = events(client, 1)
    assert name == "state"
    assert state["ok"] and state["version"] == client.app.state.preview.state.version


def test_a_failed_build_keeps_the_last_good_pages_and_shows_where(client, fake):
    fake.pages["index.html"] = "<html><body>新首页</body></html>"
    rebuild(client)
    good = client.app.state.preview.state.version
    fake.pages["index.html"] = "<html><body>不该出现</body></html>"
    fake.problems = [
        Problem(
            "bad front matter", fake.site.parent / "issues/2024-01/a.md", 3, hint="close the list"
        ),
        Problem(
            "unknown field", fake.site.parent / "issues/2024-01/b.md", 2, severity=Severity.WARNING
        ),
    ]

    def fail():
        client.app.state.preview.request(frozenset({Path("a.md")}))

    [_, (name, state)] = events(client, 2, then=fail)
    assert name == "state" and not state["ok"]
    assert state["version"] == good  # no reload: the page stays as it is
    first = state["problems"][0]
    assert first["where"] == "issues/2024-01/a.md:3"
    assert (first["message"], first["hint"], first["severity"]) == (
        "bad front matter",
        "close the list",
        "error",
    )
    assert state["problems"][1]["severity"] == "warning"
    assert "新首页" in client.get("/").text

    fake.problems = None
    [_, (name, state)] = events(client, 2, then=lambda: rebuild(client))
    assert state["ok"] and state["version"] != good
    assert "不该出现" in client.get("/").text


def test_a_crashing_builder_is_reported_like_a_problem(client, fake):
    fake.crash = ValueError("boom")
    rebuild(client)
    state = client.app.state.preview.state
    assert not state.ok
    assert "ValueError: boom" in state.problems[0]["message"]
    assert client.get("/").status_code == 200


def test_a_request_during_a_build_waits_for_the_new_site(client, fake):
    fake.pages["issues/2024-01/new.html"] = "<html><body>新文章</body></html>"
    fake.gate = threading.Event()
    fake.entered.clear()
    client.app.state.preview.request(frozenset({Path("new.md")}))
    assert fake.entered.wait(WAIT)
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(r=client.get("/issues/2024-01/new.html"))
    )
    thread.start()
    eventually(lambda: client.app.state.preview.busy)
    fake.gate.set()
    thread.join(WAIT)
    assert result["r"].status_code == 200
    assert "新文章" in result["r"].text


def test_before_any_good_build_pages_wait_with_the_overlay(fake):
    fake.problems = [Problem("no bulletin.yaml")]
    app = create_app(fake, fake.site, root=fake.site.parent)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        response = client.get("/")
        assert response.status_code == 503
        assert SCRIPT_URL in response.text
        [(name, state)] = events(client, 1)
        assert name == "state"
        assert state["problems"][0]["message"] == "no bulletin.yaml"


# -- banners: drafts and scheduled issues, as the preview builds them -----------


def test_drafts_and_scheduled_issues_say_so_and_published_ones_do_not(folder, tmp_path):
    from datetime import datetime

    from bulletin.build import build
    from bulletin.schedule import Visibility

    folder.issue("2024-01")
    folder.issue("2024-02", status="scheduled", publish_at="2024-02-01 09:00")
    folder.issue("2024-03", status="draft", articles={"draft": "草稿文章"})
    now = datetime.fromisoformat("2024-01-20T12:00")
    preview = tmp_path / "preview"
    build(folder.root, preview, Visibility(now, drafts=True, future=True), pdf=False)
    scheduled = (preview / "issues/2024-02/first.html").read_text(encoding="utf-8")
    assert (
        '<p class="status-banner status-scheduled" role="note">定时发布 2024-02-01 09:00</p>'
        in (scheduled)
    )
    draft = (preview / "issues/2024-03/index.html").read_text(encoding="utf-8")
    assert '<p class="status-banner status-draft" role="note">草稿</p>' in draft
    assert "草稿" in (preview / "index.html").read_text(encoding="utf-8")  # the latest is the draft
    archive = (preview / "archive/2024/index.html").read_text(encoding="utf-8")
    assert archive.count("status-badge") == 2
    assert "status-banner" not in (preview / "issues/2024-01/index.html").read_text(
        encoding="utf-8"
    )

    site = tmp_path / "site"
    build(folder.root, site, Visibility(now), pdf=False)
    pages = [p.read_text(encoding="utf-8") for p in site.rglob("*.html")]
    assert pages and not [p for p in pages if "status-banner" in p or "status-badge" in p]
