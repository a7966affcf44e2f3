"""What `bulletin check` adds for publishing: the publisher's settings and recipients,
the publish log, and the content freeze (a published issue may change only through a
correction, 更正)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bulletin.errors import Problem, Report
from bulletin.model import Bulletin
from bulletin.publish.log import PublishLog
from bulletin.publish.plan import make_plan
from bulletin.publish.recipients import load_recipients
from bulletin.publish.settings import load_settings
from bulletin.schedule import Visibility


def publishing_problems(root: Path, bulletin: Bulletin, now: datetime) -> list[Problem]:
    """`bulletin` must hold every issue and article (checked with drafts and future)."""
    report = Report()
    settings = load_settings(root, report)
    if settings is not None and settings.mail is not None:
        load_recipients(settings.mail.recipients, report)
    log = PublishLog.read(root, report)
    now = Visibility(now).in_zone(bulletin.config.timezone).now
    return report.problems + list(make_plan(bulletin, log, now).problems)
