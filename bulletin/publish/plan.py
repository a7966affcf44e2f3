"""What is due at a moment: what the visibility rule shows then, compared with what the
publish log says is out. The same comparison finds content that changed after
publication without a correction (更正): that is a problem, never a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bulletin.errors import Problem
from bulletin.load.issues import ISSUE_FILE
from bulletin.load.yamlfile import key_line
from bulletin.model import Bulletin, Issue
from bulletin.publish.content import ISSUE_PART, Content, content_of
from bulletin.publish.log import History, PublishLog, Record
from bulletin.schedule import Visibility, next_change, visible_bulletin

REASONS = {
    "first": "first publication",
    "release": "embargoed article released",
    "correction": "correction",
    "withdrawal": "withdrawn",
}


@dataclass(frozen=True)
class Job:
    """One issue to put out (or take down) in this run."""

    issue_id: str
    reason: str  # a key of REASONS
    issue: Issue | None  # as shown at the run's moment; None when withdrawn
    content: Content | None
    mail: bool = False  # the first publication of a scheduled issue: e-mail it

    @property
    def corrections(self) -> int:
        return len(self.issue.corrections) if self.issue else 0


@dataclass(frozen=True)
class Plan:
    now: datetime
    jobs: tuple[Job, ...]
    mail: tuple[str, ...]  # issues whose e-mail edition is still being sent
    problems: tuple[Problem, ...]  # content changed after publication
    next_due: datetime | None
    histories: dict[str, History]


def make_plan(bulletin: Bulletin, log: PublishLog, now: datetime) -> Plan:
    """`bulletin` must hold every issue and article (loaded with drafts and future)."""
    shown_now = {i.id: i for i in visible_bulletin(bulletin, Visibility(now)).issues}
    histories = {i: log.history(i) for i in dict.fromkeys([*log.issue_ids(), *shown_now])}
    jobs: list[Job] = []
    problems: list[Problem] = []
    for issue in bulletin.issues:
        history = histories.get(issue.id) or History()
        job, problem = _compare(bulletin, issue, shown_now.get(issue.id), history, log)
        jobs += [job] if job else []
        problems += [problem] if problem else []
    known = {i.id for i in bulletin.issues}
    for issue_id, history in histories.items():
        if issue_id not in known and history.published is not None:
            jobs.append(Job(issue_id, "withdrawal", None, None))
    mail = tuple(i for i, h in histories.items() if h.mail_open)
    return Plan(now, tuple(jobs), mail, tuple(problems), next_change(bulletin, now), histories)


def shown_at(bulletin: Bulletin, issue: Issue, moment: datetime) -> Issue | None:
    """The issue as the visibility rule showed it at `moment`, or None if hidden then."""
    shown = visible_bulletin(bulletin.only([issue]), Visibility(moment)).issues
    return shown[0] if shown else None


def _compare(
    bulletin: Bulletin, issue: Issue, shown: Issue | None, history: History, log: PublishLog
) -> tuple[Job | None, Problem | None]:
    record = history.published
    if record is None:
        if shown is None:
            return None, None
        return Job(issue.id, "first", shown, content_of(shown), issue.status == "scheduled"), None
    if issue.status == "draft":
        return Job(issue.id, "withdrawal", None, None), None
    then = shown_at(bulletin, issue, record.time)
    if then is None:
        return None, _moved(issue, record, log)
    problem = frozen_problem(issue, content_of(then), record, log, bulletin.config.timezone)
    if problem is not None or shown is None:
        return None, problem
    if len(issue.corrections) > record.data.get("corrections", 0):
        return Job(issue.id, "correction", shown, content_of(shown)), None
    content = content_of(shown)
    if content.hash != record.data.get("hash"):
        return Job(issue.id, "release", shown, content), None
    return None, None


def frozen_problem(
    issue: Issue, then: Content, record: Record, log: PublishLog, zone: tzinfo
) -> Problem | None:
    """A published issue must show what the log recorded, unless a new correction
    explains the change; a correction, once out, cannot be taken back."""
    logged = record.data.get("corrections", 0)
    issue_file = issue.path / ISSUE_FILE
    if len(issue.corrections) < logged:
        return Problem(
            f"issue {issue.id} was published with {logged} correction(s); "
            f"issue.yaml now has {len(issue.corrections)}",
            issue_file,
            key_line(issue_file, "corrections"),
            hint="a correction that readers have seen stays: restore it in `corrections:`",
        )
    if then.hash == record.data.get("hash") or len(issue.corrections) > logged:
        return None
    changes = then.changes_since(record.data.get("parts", {})) or ["its content changed"]
    first = changes[0].rsplit(" ", 1)[0]
    path = issue_file if first in (ISSUE_PART, "its content") else issue.path / first
    published = record.time.astimezone(zone)
    return Problem(
        f"issue {issue.id} ({issue.label}) is out since {published:%Y-%m-%d %H:%M} "
        f"({log.path.name}:{record.line}) and has changed since: {', '.join(changes)}",
        path,
        1 if path.suffix == ".md" else None,
        hint="published content is frozen: undo the change, or record it as a correction "
        f"(更正) in {issue.id}/issue.yaml, e.g. `corrections: [{{date: 2024-03-02, text: "
        "更正：……}]`; the site and the PDF show it and `bulletin publish` puts it out",
    )


def _moved(issue: Issue, record: Record, log: PublishLog) -> Problem:
    issue_file = issue.path / ISSUE_FILE
    return Problem(
        f"issue {issue.id} is out since {record.time:%Y-%m-%d %H:%M} UTC "
        f"({log.path.name}:{record.line}), but its publish_at now lies after that",
        issue_file,
        key_line(issue_file, "publish_at"),
        hint="restore the publish_at it came out with; to take an issue down, set `status: draft`",
    )
