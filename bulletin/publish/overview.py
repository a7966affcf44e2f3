"""`bulletin schedule`: every issue with its publish time and state, what comes next, and
warnings about a schedule that will go wrong (a missed time, a numbering gap, two issues
at once, a time whose zone is only guessed, a local time that DST skips or repeats).

It reads what `publish` reads and decides nothing of its own: states come from the
planner, times from the visibility rule.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from bulletin.errors import BulletinError, Problem, Report, Severity
from bulletin.load.config import CONFIG_FILE
from bulletin.load.issues import ISSUE_FILE
from bulletin.load.project import load_bulletin
from bulletin.load.yamlfile import key_line
from bulletin.model import Bulletin, Issue
from bulletin.publish.lock import running_pid
from bulletin.publish.log import History, PublishLog
from bulletin.publish.plan import REASONS, Job, make_plan
from bulletin.publish.times import local, offset
from bulletin.schedule import Visibility

STATES = ("draft", "scheduled", "due", "publishing", "failed", "published")


@dataclass(frozen=True)
class Row:
    key: str  # 2024-03, or 2024-03/slug for an article with its own publish_at
    label: str
    status: str  # as written in issue.yaml; empty for an article
    at: datetime | None
    state: str  # one of STATES
    note: str = ""


@dataclass
class Overview:
    now: datetime
    zone: tzinfo
    rows: list[Row] = field(default_factory=list)
    next_due: datetime | None = None
    next_keys: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]


def overview(root: Path, now: datetime) -> Overview:
    """The schedule at `now`; files with errors still show what could be read."""
    report = Report()
    bulletin = load_bulletin(root, report)
    if bulletin is None:
        raise BulletinError(report.problems, root)
    zone = bulletin.config.timezone
    now = Visibility(now).in_zone(zone).now
    log = PublishLog.read(root, report)
    plan = make_plan(bulletin, log, now)
    view = Overview(now, zone, problems=list(report.problems) + list(plan.problems))
    jobs = {j.issue_id: j for j in plan.jobs}
    busy = running_pid(root)
    for issue in sorted(bulletin.issues, key=_time_order):
        history = plan.histories.get(issue.id) or History()
        row = _issue_row(issue, history, jobs.get(issue.id), now, busy, zone)
        view.rows.append(row)
        view.rows += _article_rows(issue, history, now)
        view.problems += _missed(issue, row, history, zone)
    view.next_due = plan.next_due
    if plan.next_due is not None:
        view.next_keys = [r.key for r in view.rows if r.at == plan.next_due and r.state != "draft"]
    view.problems += numbering(bulletin) + same_time(bulletin, zone) + zone_doubts(bulletin, root)
    view.problems += _published_ahead(bulletin, now, zone)
    view.problems += _mail_stuck(plan.histories, log)
    return view


def _time_order(issue: Issue) -> tuple:
    moment = issue.publish_at or datetime(issue.year, 1, 1, tzinfo=UTC)
    return (moment, issue.sort_key)


def _issue_row(
    issue: Issue, history: History, job: Job | None, now: datetime, busy: int | None, zone: tzinfo
) -> Row:
    label, status, at = issue.label, issue.status, issue.publish_at
    record = history.published
    if job is not None:
        failure = history.failure
        if failure is not None and failure.event == "started" and busy:
            return Row(issue.id, label, status, at, "publishing", f"pid {busy}")
        if failure is not None:
            error = failure.data.get("error") or "the run stopped before it finished"
            return Row(
                issue.id, label, status, at, "failed", f"{_when(failure.time, zone)}: {error}"
            )
        return Row(issue.id, label, status, at, "due", REASONS[job.reason])
    if record is not None:
        note = f"since {_when(record.time, zone)} · {str(record.data.get('hash', ''))[:19]}"
        if history.mail_open:
            note += f" · mail {len(history.sent)} sent, not finished"
        elif history.ever_mailed:
            note += f" · mailed to {len(history.sent)}"
        if history.ever_mailed and (history.refused or history.uncertain):
            note += f" ({len(history.refused)} refused, {len(history.uncertain)} uncertain)"
        return Row(issue.id, label, status, at, "published", note)
    if issue.status == "draft":
        return Row(issue.id, label, status, at, "draft")
    return Row(issue.id, label, status, at, "scheduled")


def _article_rows(issue: Issue, history: History, now: datetime) -> list[Row]:
    """Articles with their own publish_at (an embargo), under their issue."""
    rows = []
    for article in issue.articles:
        if article.publish_at is None:
            continue
        record = history.published
        if issue.status == "draft":
            state = "draft"
        elif record is not None and record.time >= article.publish_at:
            state = "published"
        elif article.publish_at <= now:
            state = "due"
        else:
            state = "scheduled"
        key = f"{issue.id}/{article.slug}"
        rows.append(Row(key, article.title, "", article.publish_at, state, "embargo"))
    return rows


def _when(moment: datetime, zone: tzinfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def _missed(issue: Issue, row: Row, history: History, zone: tzinfo) -> list[Problem]:
    issue_file = issue.path / ISSUE_FILE
    line = key_line(issue_file, "publish_at") or key_line(issue_file, "status")
    due = f"due at {local(issue.publish_at, zone)}" if issue.publish_at else "due"
    if row.state == "due" and history.published is None:
        return [
            _warning(
                f"issue {issue.id} was {due} and has not been published",
                issue_file,
                line,
                "is `bulletin publish` running (from cron, or with --watch)? Run it now to "
                "put the issue out",
            )
        ]
    if row.state == "failed":
        return [
            _warning(
                f"issue {issue.id} was {due}; publishing it failed: {row.note}",
                issue_file,
                line,
                "the next `bulletin publish` tries again; fix the cause (see the publish log)",
            )
        ]
    return []


def numbering(bulletin: Bulletin) -> list[Problem]:
    """Gaps in the numbers of a year, gaps and repeats of the running number (总第 N 期),
    and issues that come out in another order than their numbers."""
    problems = []
    issues = sorted(bulletin.issues, key=lambda i: i.sort_key)
    years: dict[int, list[Issue]] = defaultdict(list)
    for issue in issues:
        years[issue.year].append(issue)
    for year, in_year in years.items():
        for before, after in itertools.pairwise(in_year):
            if after.number > before.number + 1:
                missing = ", ".join(str(n) for n in range(before.number + 1, after.number))
                problems.append(
                    _warning(
                        f"no issue {year} 年第 {missing} 期: the numbers of {year} go from "
                        f"{before.number} ({before.id}) to {after.number} ({after.id})",
                        *_at(after, "number"),
                        "number the issues of a year without gaps, or add the missing one",
                    )
                )
    with_serial = [i for i in issues if i.serial is not None]
    for before, after in itertools.pairwise(with_serial):
        assert before.serial is not None and after.serial is not None
        if after.serial == before.serial:
            text = f"issues {before.id} and {after.id} both have serial {after.serial} (总第 {after.serial} 期)"
        elif after.serial != before.serial + 1:
            text = (
                f"the serial (总第 N 期) goes from {before.serial} ({before.id}) to "
                f"{after.serial} ({after.id})"
            )
        else:
            continue
        problems.append(_warning(text, *_at(after, "serial"), "give each issue the next serial"))
    timed = [i for i in issues if i.status != "draft" and i.publish_at is not None]
    for before, after in itertools.pairwise(timed):
        assert before.publish_at is not None and after.publish_at is not None
        if after.publish_at < before.publish_at:
            problems.append(
                _warning(
                    f"issue {after.id} comes out before {before.id}, which has a lower number",
                    *_at(after, "publish_at"),
                    "swap the publish times, or the numbers",
                )
            )
    return problems


def same_time(bulletin: Bulletin, zone: tzinfo) -> list[Problem]:
    groups: dict[datetime, list[Issue]] = defaultdict(list)
    for issue in bulletin.issues:
        if issue.status != "draft" and issue.publish_at is not None:
            groups[issue.publish_at.astimezone(UTC)].append(issue)
    problems = []
    for moment, issues in sorted(groups.items()):
        if len(issues) > 1:
            issues.sort(key=lambda i: i.sort_key)
            names = " and ".join(i.id for i in issues)
            problems.append(
                _warning(
                    f"issues {names} come out at the same time, {local(moment, zone)}",
                    *_at(issues[-1], "publish_at"),
                    "give each issue its own publish time, so readers get one at a time",
                )
            )
    return problems


def zone_doubts(bulletin: Bulletin, root: Path) -> list[Problem]:
    """Times written without a UTC offset: read in the bulletin's zone, which may be only
    the default; and local times that a daylight-saving change skips or repeats."""
    config_has_zone = key_line(root / CONFIG_FILE, "timezone") is not None
    zone = bulletin.config.timezone
    problems = []
    for issue in bulletin.issues:
        moments = [(issue.publish_at, issue.path / ISSUE_FILE, "issue")]
        moments += [(a.publish_at, a.path, "article") for a in issue.articles]
        for moment, path, what in moments:
            if moment is None or not isinstance(moment.tzinfo, ZoneInfo):
                continue  # written with an offset: exact
            line = key_line(path, "publish_at")
            if not config_has_zone:
                problems.append(
                    _warning(
                        f"the {what}'s publish_at {moment:%Y-%m-%d %H:%M} has no UTC offset "
                        f"and {CONFIG_FILE} sets no timezone: it is read as {zone.key} "
                        f"({moment.astimezone(UTC):%H:%M} UTC)",
                        path,
                        line,
                        f"add `timezone: {zone.key}` to {CONFIG_FILE}, or write the offset: "
                        f"{moment:%Y-%m-%dT%H:%M}{offset(moment)}",
                    )
                )
            problems += _dst(moment, zone, path, line, what)
    return problems


def _dst(moment: datetime, zone: ZoneInfo, path: Path, line, what: str) -> list[Problem]:
    wall = moment.replace(tzinfo=None)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return [
            _warning(
                f"the {what}'s publish_at {wall:%Y-%m-%d %H:%M} does not exist in {zone.key} "
                "(the clocks skip it when daylight saving time begins); it is taken as "
                f"{local(moment, zone)}",
                path,
                line,
                "choose a time outside the skipped hour, or write it with a UTC offset",
            )
        ]
    if moment.replace(fold=0).utcoffset() != moment.replace(fold=1).utcoffset():
        return [
            _warning(
                f"the {what}'s publish_at {wall:%Y-%m-%d %H:%M} happens twice in {zone.key} "
                "(daylight saving time ends); the first is meant: "
                f"{moment.astimezone(UTC):%H:%M} UTC",
                path,
                line,
                "choose a time outside the repeated hour, or write it with a UTC offset",
            )
        ]
    return []


def _published_ahead(bulletin: Bulletin, now: datetime, zone: tzinfo) -> list[Problem]:
    """`status: published` means "out already": for an issue still to come, the publisher
    puts it out on time but sends no e-mail, which is rarely what the editor meant."""
    return [
        _warning(
            f"issue {i.id} has `status: published` but comes out only at {local(i.publish_at, zone)}",
            *_at(i, "status"),
            "write `status: scheduled` for an issue that is not out yet: it goes out at its "
            "time and, when mail is set up, is e-mailed (a `published` one is not)",
        )
        for i in bulletin.issues
        if i.status == "published" and i.publish_at is not None and i.publish_at > now
    ]


def _mail_stuck(histories: dict[str, History], log: PublishLog) -> list[Problem]:
    problems = []
    for issue_id, history in histories.items():
        uncertain = sorted(history.uncertain)
        if uncertain:
            problems.append(
                _warning(
                    f"the e-mail edition of {issue_id} may not have reached "
                    f"{', '.join(uncertain)}: a run was stopped while sending it",
                    log.path,
                    None,
                    "it is not sent again, so that no one gets it twice; check with them",
                )
            )
        if history.mail_open and history.mail_error is not None:
            error = history.mail_error
            problems.append(
                _warning(
                    f"the e-mail edition of {issue_id} is not finished: {error.data.get('error')}",
                    log.path,
                    error.line,
                    "the next `bulletin publish` sends to the recipients left; no one gets it twice",
                )
            )
    return problems


def _at(issue: Issue, key: str) -> tuple[Path, int | None]:
    path = issue.path / ISSUE_FILE
    return path, key_line(path, key)


def _warning(message: str, path: Path, line: int | None, hint: str) -> Problem:
    return Problem(message, path, line, hint, Severity.WARNING)
