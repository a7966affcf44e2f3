"""The publish log: what was published when, with which content, and how deploy and mail went.

It is a plain file in the bulletin (publish-log.jsonl), meant to be committed: one JSON
object a line, appended and fsync'd before the step it announces and after it ends. A
run that is killed therefore leaves a `started` line without its end, which the next run
reads as a failure and retries. Nothing is ever rewritten, so git merges stay simple.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulletin.errors import Report

LOG_FILE = "publish-log.jsonl"

# started   an attempt to publish an issue begins (hash, reason)
# published the site with it was deployed (hash, parts, corrections, deploy, mail)
# failed    the attempt failed (error); the next run retries
# withdrawn the issue left the site (it became a draft, or its folder was removed)
# mail-sending            the e-mail edition is being handed to the server for one recipient
# mailed / mail-refused   that recipient got it / refused it for good
# mail-uncertain          a run stopped between `mail-sending` and its end: it may have gone
#                         out, so it is not sent again (never twice), and the run says so
# mail-failed             sending stopped (error, and `to` if a message was refused for
#                         now); the next run goes on where it stopped
# mail-done               every recipient has been dealt with
EVENTS = (
    "started",
    "published",
    "failed",
    "withdrawn",
    "mail-sending",
    "mailed",
    "mail-refused",
    "mail-uncertain",
    "mail-failed",
    "mail-done",
)
ATTEMPT_EVENTS = ("started", "published", "failed", "withdrawn")
_DEALT_WITH = {"mailed": "sent", "mail-refused": "refused", "mail-uncertain": "uncertain"}


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Record:
    time: datetime
    issue: str
    event: str
    data: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0  # in the file; 0 for a record not yet written

    def to_json(self) -> str:
        head = {"time": utc_text(self.time), "issue": self.issue, "event": self.event}
        return json.dumps({**head, **self.data}, ensure_ascii=False, separators=(", ", ": "))


@dataclass
class History:
    """One issue's story in the log, as the planner and `bulletin schedule` need it."""

    published: Record | None = None  # the last `published`, unless withdrawn since
    failure: Record | None = None  # the last attempt's `failed`, or its unfinished `started`
    last: Record | None = None  # the last attempt record of any kind
    mail_open: bool = False  # a publication asked for mail and `mail-done` has not come
    mailed: set[str] = field(default_factory=set)  # addresses dealt with: the three below
    sent: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)  # for good
    uncertain: set[str] = field(default_factory=set)  # a run stopped while sending to them
    sending: set[str] = field(default_factory=set)  # addresses with `mail-sending` and no end
    mail_error: Record | None = None  # the last `mail-failed` of the open batch
    ever_mailed: bool = False


class PublishLog:
    """The records of one bulletin's log file; `append` adds and writes them durably."""

    def __init__(self, path: Path, records: list[Record]) -> None:
        self.path = path
        self.records = records
        self._by_issue: dict[str, list[Record]] = {}
        for record in records:
            self._by_issue.setdefault(record.issue, []).append(record)

    @classmethod
    def read(cls, root: Path, report: Report) -> PublishLog:
        path = root / LOG_FILE
        if not path.exists():
            return cls(path, [])
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            report.error(f"cannot read the publish log: {exc}", path)
            return cls(path, [])
        lines = raw.split("\n")
        records = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            record = _parse(line, number, path, report, torn=number == len(lines))
            if record is not None:
                records.append(record)
        return cls(path, records)

    def append(self, records: Iterable[Record]) -> None:
        """Write the records at the end of the file in one write, then fsync."""
        new = list(records)
        if not new:
            return
        created = not self.path.exists()
        with open(self.path, "a+b") as handle:
            _cut_torn_line(handle)
            handle.write("".join(r.to_json() + "\n" for r in new).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            fsync_folder(self.path.parent)
        self.records.extend(new)
        for record in new:
            self._by_issue.setdefault(record.issue, []).append(record)

    @property
    def last_time(self) -> datetime | None:
        return max((r.time for r in self.records), default=None)

    def issue_ids(self) -> list[str]:
        return list(self._by_issue)

    def of(self, issue_id: str) -> list[Record]:
        return self._by_issue.get(issue_id, [])

    def history(self, issue_id: str) -> History:
        history = History()
        for record in self.of(issue_id):
            event = record.event
            if event in ATTEMPT_EVENTS:
                history.last = record
            if event == "published":
                history.published, history.failure = record, None
                if record.data.get("mail") and not history.ever_mailed:
                    history.mail_open, history.ever_mailed = True, True
            elif event == "failed":
                history.failure = record
            elif event == "withdrawn":
                history.published, history.failure = None, None
            elif event == "mail-sending":
                history.sending.add(_address(record))
            elif event in _DEALT_WITH:
                getattr(history, _DEALT_WITH[event]).add(_address(record))
                history.mailed.add(_address(record))
                history.sending.discard(_address(record))
            elif event == "mail-failed":
                history.mail_error = record
                history.sending.discard(_address(record))
            elif event == "mail-done":
                history.mail_open, history.mail_error = False, None
        if history.last is not None and history.last.event == "started":
            history.failure = history.last  # the run stopped before it could say how it went
        return history


def _address(record: Record) -> str:
    return str(record.data.get("to", "")).lower()


def _parse(line: str, number: int, path: Path, report: Report, *, torn: bool) -> Record | None:
    problem = None
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        data, problem = None, f"is not a JSON object ({exc.msg})"
    if data is not None and not isinstance(data, dict):
        data, problem = None, "is not a JSON object"
    if data is not None:
        try:
            time = datetime.fromisoformat(str(data.pop("time")).replace("Z", "+00:00"))
            if time.tzinfo is None:
                raise ValueError
            issue, event = str(data.pop("issue")), str(data.pop("event"))
        except (KeyError, ValueError):
            problem = "needs `time` (with a UTC offset), `issue` and `event`"
        else:
            if event not in EVENTS:
                report.warn(
                    f"publish log record with unknown event {event!r} is ignored",
                    path,
                    number,
                    hint=f"known events: {', '.join(EVENTS)}",
                )
                return None
            return Record(time, issue, event, data, number)
    if torn:
        report.warn(
            "the last line of the publish log is incomplete and is ignored",
            path,
            number,
            hint="a run was stopped while writing it; the next `bulletin publish` goes on",
        )
        return None
    conflict = line.startswith(("<<<<<<<", "=======", ">>>>>>>"))
    report.error(
        f"publish log line {problem}",
        path,
        number,
        hint="resolve the merge conflict: keep the lines of both sides, in time order"
        if conflict
        else "the log is written by `bulletin publish`; restore this line from git",
    )
    return None


def _cut_torn_line(handle) -> None:
    """A run killed while writing leaves a last line without its newline; that record
    never happened (its reader ignored it), so it goes before the next one is written."""
    end = handle.seek(0, os.SEEK_END)
    if not end:
        return
    handle.seek(end - 1)
    if handle.read(1) == b"\n":
        return
    handle.seek(0)
    keep = handle.read().rfind(b"\n") + 1
    handle.truncate(keep)
    handle.seek(keep)


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (the log and the deploy both rely on it)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
