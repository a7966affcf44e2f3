"""The e-mail edition, sent over SMTP to a real (aiosmtpd) server on 127.0.0.1 and
checked as it arrived: one message per recipient, HTML with inlined CSS, a plain-text
part, the PDF; never twice, also across failures; login and TLS."""

from __future__ import annotations

import email
import re
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from io import BytesIO
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from PIL import Image
from pypdf import PdfReader

from tests.publishing import configure, events, have, publish, records, schedule

RECIPIENTS = ["王主任 <wang@example.org>", "li@example.org", "zhao@example.org"]


@dataclass
class Mailbox:
    """What the SMTP server received, and how it should misbehave."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # answered 550 at RCPT
    busy_after: int | None = None  # answer 451 to DATA after this many messages
    reject: set[str] = field(default_factory=set)  # answered 554 at the end of DATA
    cut_after: set[str] = field(default_factory=set)  # kept, then the line cut before the 250
    cut_at_rcpt: set[str] = field(default_factory=set)  # the line cut before the message

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.cut_at_rcpt:
            self.cut_at_rcpt.discard(address)
            server.transport.abort()
            return "451 4.4.2 connection lost"
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.busy_after is not None and len(self.messages) >= self.busy_after:
            return "451 4.3.2 try again later"
        if set(envelope.rcpt_tos) & self.reject:
            return "554 5.7.1 message rejected for this mailbox"
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((list(envelope.rcpt_tos), message))
        if set(envelope.rcpt_tos) & self.cut_after:
            self.cut_after -= set(envelope.rcpt_tos)
            server.transport.abort()  # the message is kept; its 250 never arrives
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpt, m in self.messages if rcpt == [address]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, **options) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **options)

    def __enter__(self) -> Server:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


@pytest.fixture
def server():
    with Server() as running:
        yield running


def mail_settings(folder, port: int, extra: str = "", security: str = "none") -> None:
    configure(
        folder,
        "mail:\n"
        "  host: 127.0.0.1\n"
        f"  port: {port}\n"
        f"  security: {security}\n"
        "  from: 测试简报 <bulletin@example.org>\n"
        "  timeout: 10\n"
        "  reply_to: 王编辑 <editor@example.org>\n"
        f"{extra}",
    )
    folder.write("recipients.txt", "# 收件人，一行一个\n" + "\n".join(RECIPIENTS) + "\n")


def scheduled(folder, issue_id="2024-01", at="2024-03-01 09:00", **kw):
    return folder.issue(issue_id, status="scheduled", publish_at=at, **kw)


def parts(message: EmailMessage) -> tuple[str, str, list[EmailMessage]]:
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    return html, text, list(message.iter_attachments())


@pytest.mark.pdf
def test_a_newly_published_issue_is_mailed_to_each_recipient_once(folder, cli, server):
    mail_settings(folder, server.port)
    scheduled(folder, extra="serial: 7\n")
    png = BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, "PNG")
    folder.write("issues/2024-01/images/chart.png", png.getvalue())
    folder.write(
        "issues/2024-01/first.md",
        "---\ntitle: 第一篇文章\nsource: 科技日报\n---\n\n第一段。[链接](second.html)\n\n"
        "![图表](images/chart.png)\n",
    )
    folder.write(
        "issues/2024-01/second.md",
        "---\ntitle: 第二篇文章\npublish_at: 2024-03-05 09:00\n---\n\n尚未解禁。\n",
    )
    result = publish(cli, folder, "2024-03-01T09:00")
    assert result.exit_code == 0, result.output
    assert "e-mailed 2024-01 to 3 recipient(s)" in result.output

    box = server.mailbox
    assert sorted(r[0] for r, _ in box.messages) == sorted(
        ["wang@example.org", "li@example.org", "zhao@example.org"]
    )
    message = box.to("wang@example.org")[0]
    assert message["Subject"] == "测试简报 2024 年第 1 期（总第 7 期）"
    assert message["To"] == "王主任 <wang@example.org>"  # each sees only their own address
    assert message["From"] == "测试简报 <bulletin@example.org>"
    assert message["Reply-To"] == "王编辑 <editor@example.org>"
    assert message["Date"] == "Fri, 01 Mar 2024 09:00:00 +0800"
    assert len({m["Message-ID"] for _, m in box.messages}) == 3

    html, text, attachments = parts(message)
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert [s.strip()[:6] for s in styles] == ["@media"]  # the rest is inlined
    assert 'class="masthead-title" style="' in html and "color: #c8161d" in html
    assert 'href="https://example.org/test/issues/2024-01/first.html"' in html
    assert 'src="https://example.org/test/issues/2024-01/images/chart.png"' in html
    assert 'href="https://example.org/test/issues/2024-01/second.html"' in html  # in-body link
    assert "尚未解禁" not in html and "第二篇文章" not in html  # the embargo holds in mail too
    assert "第一篇文章" in text and "第一段。" in text
    assert "https://example.org/test/issues/2024-01/first.html" in text
    assert "本期 PDF 版见附件" in text

    [pdf] = attachments
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == "测试简报2024年第1期.pdf"
    pdf_text = "".join(p.extract_text() for p in PdfReader(BytesIO(pdf.get_content())).pages)
    assert "第一篇文章" in pdf_text and "第二篇文章" not in pdf_text

    assert [r["to"] for r in records(folder, "mailed")] == [
        "wang@example.org",
        "li@example.org",
        "zhao@example.org",
    ]
    assert records(folder, "mail-done")[0]["sent"] == 3

    released = publish(cli, folder, "2024-03-05T09:00")  # the embargo ends: no new mail
    assert "embargoed article released" in released.output
    corrected = folder.write(
        "issues/2024-01/issue.yaml",
        (folder.root / "issues/2024-01/issue.yaml").read_text(encoding="utf-8")
        + "corrections:\n  - date: 2024-03-06\n    text: 更正：图表单位应为亿元。\n",
    )
    assert corrected.is_file()
    assert "correction" in publish(cli, folder, "2024-03-06T09:00").output
    assert len(box.messages) == 3  # never twice


def test_an_issue_marked_published_by_hand_is_not_mailed(folder, cli, server):
    mail_settings(folder, server.port, "  pdf: link\n")
    configure(folder, "deploy:\n  pdf: false\n")
    folder.issue("2024-01", status="published", publish_at="2024-01-15 09:00")
    result = publish(cli, folder, "2024-03-01T09:00")
    assert result.exit_code == 0 and "published 2024-01" in result.output
    assert server.mailbox.messages == []
    assert records(folder, "published")[0]["mail"] is False


def test_pdf_link_mode_links_the_pdf_instead_of_attaching_it(folder, cli, server):
    mail_settings(folder, server.port, "  pdf: link\n")
    configure(folder, "deploy:\n  pdf: false\n")
    scheduled(folder)
    publish(cli, folder, "2024-03-01T09:00")
    html, text, attachments = parts(server.mailbox.to("li@example.org")[0])
    assert attachments == []
    assert "https://example.org/test/issues/2024-01/2024-01.pdf" in html
    assert "本期 PDF 版：https://example.org/test/issues/2024-01/2024-01.pdf" in text


def test_a_refused_recipient_is_logged_and_not_retried_the_others_get_it(folder, cli, server):
    mail_settings(folder, server.port, "  pdf: link\n")
    configure(folder, "deploy:\n  pdf: false\n")
    server.mailbox.refuse.add("li@example.org")
    scheduled(folder)
    result = publish(cli, folder, "2024-03-01T09:00")
    assert result.exit_code == 0, result.output
    assert "refused for good: li@example.org: 550 5.1.1 no such mailbox" in result.output
    assert sorted(r[0] for r, _ in server.mailbox.messages) == [
        "wang@example.org",
        "zhao@example.org",
    ]
    assert events(folder)[-1] == "mail-done"
    assert records(folder, "mail-refused")[0]["to"] == "li@example.org"
    publish(cli, folder, "2024-03-01T09:01")
    assert len(server.mailbox.messages) == 2


def test_mail_that_stops_halfway_goes_on_next_run_and_nobody_gets_it_twice(folder, cli, server):
    mail_settings(folder, server.port, "  pdf: link\n")
    configure(folder, "deploy:\n  pdf: false\n")
    server.mailbox.busy_after = 1  # one message goes through, then "451 try later"
    scheduled(folder)
    first = publish(cli, folder, "2024-03-01T09:00")
    assert first.exit_code == 1
    assert "published 2024-01" in first.output  # the site is out regardless
    assert "e-mail stopped: 2024-01: " in first.output and "451" in first.output
    assert len(server.mailbox.messages) == 1
    assert events(folder) == [
        "started",
        "published",
        "mail-sending",
        "mailed",
        "mail-sending",
        "mail-failed",
    ]
    assert (
        "the e-mail edition of 2024-01 is not finished"
        in schedule(cli, folder, "2024-03-01T09:00:30").output
    )

    server.mailbox.busy_after = None
    second = publish(cli, folder, "2024-03-01T09:01")
    assert second.exit_code == 0, second.output
    assert "e-mailed 2024-01 to 2 recipient(s)" in second.output
    received = sorted(r[0] for r, _ in server.mailbox.messages)
    assert received == ["li@example.org", "wang@example.org", "zhao@example.org"]
    assert publish(cli, folder, "2024-03-01T09:02").output == ""
    assert len(server.mailbox.messages) == 3


def test_mail_cut_off_while_sending_is_never_sent_twice_and_is_reported(
    folder, cli, server, monkeypatch
):
    from bulletin.publish.mail import Smtp

    mail_settings(folder, server.port, "  pdf: link\n")
    configure(folder, "deploy:\n  pdf: false\n")
    scheduled(folder)
    real_send = Smtp.send

    def killed_after_the_second(self, message, recipient):
        real_send(self, message, recipient)  # the server has it
        if len(server.mailbox.messages) == 2:
            raise SystemExit(137)  # killed before the log could say so

    monkeypatch.setattr(Smtp, "send", killed_after_the_second)
    assert publish(cli, folder, "2024-03-01T09:00").exit_code == 137
    monkeypatch.setattr(Smtp, "send", real_send)
    second = publish(cli, folder, "2024-03-01T09:01")
    assert second.exit_code == 0, second.output
    assert "e-mail 2024-01 to li@example.org may or may not have gone out" in second.output
    assert "e-mailed 2024-01 to 1 recipient(s)" in second.output
    received = sorted(r[0] for r, _ in server.mailbox.messages)
    assert received == ["li@example.org", "wang@example.org", "zhao@example.org"]
    assert [r["to"] for r in records(folder, "mail-uncertain")] == ["li@example.org"]
    assert publish(cli, folder, "2024-03-01T09:02").output == ""


def test_a_line_cut_after_the_server_took_a_message_does_not_send_it_twice(folder, cli, server):
    mail_settings(folder, server.port, "  pdf: link\n")
    configure(folder, "deploy:\n  pdf: false\n")
    server.mailbox.cut_after = {"li@example.org"}
    scheduled(folder)
    first = publish(cli, folder, "2024-03-01T09:00")
    assert first.exit_code == 1 and "e-mail stopped" in first.output
    second = publish(cli, folder, "2024-03-01T09:01")
    assert second.exit_code == 0, second.output
    assert "e-mail 2024-01 to li@example.org may or may not have gone out" in second.output
    received = sorted(r[0] for r, _ in server.mailbox.messages)
    assert received == ["li@example.org", "wang@example.org", "zhao@example.org"]
    overview = schedule(cli, folder, "2024-03-01T09:02").output
    assert "mailed to 2 (0 refused, 1 uncertain)" in overview
    flat = " ".join(overview.split())  # the warning wraps at the terminal's width
    assert "may not have reached li@example.org" in flat


def test_a_line_cut_before_the_message_was_sent_is_carried_on_next_run(folder, cli, server):
    mail_settings(folder, server.port, "  pdf: link\n")
    configure(folder, "deploy:\n  pdf: false\n")
    server.mailbox.cut_at_rcpt = {"li@example.org"}
    scheduled(folder)
    assert publish(cli, folder, "2024-03-01T09:00").exit_code == 1
    second = publish(cli, folder, "2024-03-01T09:01")
    assert second.exit_code == 0, second.output
    assert "may or may not" not in second.output
    received = sorted(r[0] for r, _ in server.mailbox.messages)
    assert received == ["li@example.org", "wang@example.org", "zhao@example.org"]


def test_a_message_refused_for_good_at_data_is_not_retried(folder, cli, server):
    mail_settings(folder, server.port, "  pdf: link\n")
    configure(folder, "deploy:\n  pdf: false\n")
    server.mailbox.reject = {"li@example.org"}
    scheduled(folder)
    result = publish(cli, folder, "2024-03-01T09:00")
    assert result.exit_code == 0, result.output
    assert "refused for good: li@example.org: 554" in result.output
    assert sorted(r[0] for r, _ in server.mailbox.messages) == [
        "wang@example.org",
        "zhao@example.org",
    ]
    assert publish(cli, folder, "2024-03-01T09:01").output == ""


def test_mail_waits_for_a_server_that_is_down_then_goes_out(folder, cli):
    port = free_port()  # nobody listens here yet
    mail_settings(folder, port, "  pdf: link\n")
    configure(folder, "deploy:\n  pdf: false\n")
    scheduled(folder)
    down = publish(cli, folder, "2024-03-01T09:00")
    assert down.exit_code == 1
    assert f"cannot send through 127.0.0.1:{port}" in down.output
    assert events(folder) == ["started", "published", "mail-failed"]
    assert records(folder, "mail-failed")[0]["left"] == 3

    running = Server()
    running.port = port
    running.controller = Controller(running.mailbox, hostname="127.0.0.1", port=port)
    with running:
        up = publish(cli, folder, "2024-03-01T09:10")
    assert up.exit_code == 0, up.output
    assert len(running.mailbox.messages) == 3
    assert events(folder)[-1] == "mail-done"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_takes_the_password_from_the_environment(folder, cli, monkeypatch):
    def authenticate(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"bulletin",
            b"s3cret",
        )
        return AuthResult(success=ok, handled=False)  # not handled: the server says 535

    options = {
        "authenticator": authenticate,
        "auth_required": True,
        "auth_require_tls": False,  # plain text is fine on 127.0.0.1; TLS is tested below
        "auth_exclude_mechanism": ["LOGIN"],  # smtplib then uses PLAIN, which fails cleanly
    }
    with Server(**options) as running:
        mail_settings(
            folder,
            running.port,
            "  pdf: link\n  user: bulletin\n  password_env: TEST_SMTP_PASSWORD\n",
        )
        configure(folder, "deploy:\n  pdf: false\n")
        scheduled(folder)
        monkeypatch.delenv("TEST_SMTP_PASSWORD", raising=False)
        missing = publish(cli, folder, "2024-03-01T09:00")
        assert missing.exit_code == 1
        assert "set the environment variable TEST_SMTP_PASSWORD" in missing.output
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
        refused = publish(cli, folder, "2024-03-01T09:01")
        assert refused.exit_code == 1 and "535" in refused.output
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
        sent = publish(cli, folder, "2024-03-01T09:02")
        assert sent.exit_code == 0, sent.output
        assert len(running.mailbox.messages) == 3


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if not have("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_mail_over_tls_checks_the_servers_certificate(folder, cli, certificate, security):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    options = (
        {"tls_context": context, "require_starttls": True}
        if security == "starttls"
        else {"ssl_context": context}
    )
    with Server(**options) as running:
        mail_settings(folder, running.port, "  pdf: link\n", security=security)
        configure(folder, "deploy:\n  pdf: false\n")
        scheduled(folder)
        untrusted = publish(cli, folder, "2024-03-01T09:00")
        assert untrusted.exit_code == 1
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.output
        config = folder.root / "bulletin.yaml"
        config.write_text(
            config.read_text(encoding="utf-8").replace(
                "  pdf: link\n", f"  pdf: link\n  ca_file: {cert}\n", 1
            ),
            encoding="utf-8",
        )
        trusted = publish(cli, folder, "2024-03-01T09:01")
        assert trusted.exit_code == 0, trusted.output
        assert len(running.mailbox.messages) == 3
