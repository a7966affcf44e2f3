"""`bulletin publish`: put out what is due, once, and say so in the publish log.

One run: take the lock (or leave, if another run has it); load and check everything;
plan; if something is due, log `started`, build the whole site for this moment with
`bulletin.build.build`, deploy it, log `published` (or `failed`); then send the e-mail
edition of newly published issues, logging each recipient. All-or-nothing: a failure
anywhere before the deploy leaves the old site live and the log saying what failed,
so the next run (cron, or --watch after a back-off) tries again.
"""

from __future__ import annotations

import secrets
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from bulletin import build as building
from bulletin.errors import BulletinError, Problem, Report
from bulletin.model import Bulletin
from bulletin.publish.content import content_of
from bulletin.publish.deploy import DeployError, Target, target_for
from bulletin.publish.lock import Busy, publish_lock
from bulletin.publish.log import LOG_FILE, PublishLog, Record
from bulletin.publish.mail import MailError, Refused, Smtp, compose
from bulletin.publish.plan import REASONS, Job, Plan, make_plan
from bulletin.publish.recipients import Recipient, load_recipients
from bulletin.publish.settings import Settings, load_settings
from bulletin.publish.times import distance, local, utc
from bulletin.render.templates import make_environment
from bulletin.schedule import Visibility, visible_bulletin


@dataclass
class Outcome:
    """What one run did, for the command line and for --watch."""

    now: datetime
    zone: tzinfo = UTC
    busy: int | None = None  # the pid of the run that holds the lock; nothing was done
    jobs: tuple[Job, ...] = ()  # what was due
    deployed: str = ""  # where the site went
    error: str = ""  # why building or deploying failed; then nothing went out
    mailed: Counter[str] = field(default_factory=Counter)  # issue id -> messages sent now
    refused: list[str] = field(default_factory=list)  # "address: reason"
    uncertain: list[str] = field(default_factory=list)  # "issue id: address"
    mail_error: str = ""  # why sending stopped; the next run goes on
    next_due: datetime | None = None
    warnings: list[Problem] = field(default_factory=list)  # from the files and the log

    @property
    def ok(self) -> bool:
        return not self.error and not self.mail_error

    @property
    def idle(self) -> bool:
        """Nothing was due and nothing was sent."""
        return self.ok and not (self.jobs or self.mailed or self.refused or self.uncertain)

    def lines(self) -> list[str]:
        """What happened, a line each, for the terminal, cron's mail or the journal."""
        if self.busy is not None:
            return [f"another `bulletin publish` (pid {self.busy or '?'}) is at work; nothing done"]
        lines = []
        for job in self.jobs:
            name = f"{job.issue_id} ({job.issue.label})" if job.issue else job.issue_id
            if self.error:
                lines.append(f"NOT published: {name}, {REASONS[job.reason]}")
            elif job.reason == "withdrawal":
                lines.append(f"withdrew {name} from the site")
            else:
                lines.append(f"published {name}: {REASONS[job.reason]}")
        if self.error:
            lines.append(f"failed: {self.error}")
            lines.append("the publish log says so; the next run tries again")
        elif self.deployed:
            lines.append(f"deployed to {self.deployed}")
        lines += [f"e-mailed {i} to {n} recipient(s)" for i, n in self.mailed.items()]
        lines += [f"refused for good: {r}" for r in self.refused]
        lines += [
            f"e-mail {u} may or may not have gone out (a run was stopped while sending it); "
            "it is not sent again"
            for u in self.uncertain
        ]
        if self.mail_error:
            lines.append(f"e-mail stopped: {self.mail_error}; the next run goes on")
        if not lines:
            lines.append("nothing due")
        if self.next_due is not None:
            lines.append(
                f"next: {local(self.next_due, self.zone)} ({utc(self.next_due)}), "
                f"{distance(self.next_due, self.now)}"
            )
        return lines


def publish(root: Path, now: datetime) -> Outcome:
    """Publish what is due at `now` (naive: the bulletin's time zone). Raises
    BulletinError for bad files or content changed after publication."""
    try:
        with publish_lock(root):
            return _Run(root, now).run()
    except Busy as busy:
        return Outcome(now, busy=busy.pid or 0)


class _Run:
    def __init__(self, root: Path, now: datetime) -> None:
        self.root = root
        self.loaded = building.load(root, Visibility(now, drafts=True, future=True))
        self.now = self.loaded.visibility.now
        self.bulletin = self.loaded.bulletin  # every issue and article
        report = Report()
        settings = load_settings(root, report)
        self.log = PublishLog.read(root, report)
        mail = settings.mail if settings else None
        self.recipients: list[Recipient] = load_recipients(mail.recipients, report) if mail else []
        report.raise_if_errors(root)
        self.warnings = self.loaded.warnings + report.warnings
        assert settings is not None
        self.settings: Settings = settings
        self._refuse_clock_behind_log()
        self.run_id = f"{self.now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"

    def run(self) -> Outcome:
        plan = make_plan(self.bulletin, self.log, self.now)
        if plan.problems:
            raise BulletinError(list(plan.problems), self.root)
        outcome = Outcome(
            self.now,
            self.bulletin.config.timezone,
            jobs=plan.jobs,
            next_due=plan.next_due,
            warnings=self.warnings,
        )
        to_mail = self._to_mail(plan)
        if not plan.jobs and not to_mail:
            return outcome
        target = target_for(self.settings.deploy, self.root)
        try:
            shown, site = self._publish(plan, target, outcome)
            if to_mail and not outcome.error:
                self._mail(to_mail, shown, site, outcome)
        finally:
            target.cleanup()
        return outcome

    def _to_mail(self, plan: Plan) -> list[str]:
        if self.settings.mail is None:
            return []
        return list(dict.fromkeys([*plan.mail, *(j.issue_id for j in plan.jobs if j.mail)]))

    def _publish(
        self, plan: Plan, target: Target, outcome: Outcome
    ) -> tuple[Bulletin, Path | None]:
        """Build and deploy for the due jobs; returns what the site shows and where it
        was built (None when nothing had to be deployed)."""
        shown = visible_bulletin(self.bulletin, Visibility(self.now))
        if not plan.jobs:
            return shown, None
        self.log.append(
            Record(self.now, j.issue_id, "started", {"run": self.run_id, **_intent(j)})
            for j in plan.jobs
        )
        before = _fingerprint(shown, plan)
        try:
            site = target.prepare(self.run_id)
            result = building.build(
                self.root, site, Visibility(self.now), pdf=self.settings.deploy.pdf
            )
            _refuse_changed_meanwhile(before, result.bulletin)
            where = target.deploy(site)
        except (BulletinError, DeployError, OSError) as exc:
            outcome.error = str(exc)
            self.log.append(self._failed(plan, _first_line(outcome.error)))
            return shown, None
        except BaseException as exc:  # Ctrl-C, SystemExit: say so before leaving
            self.log.append(self._failed(plan, f"interrupted ({type(exc).__name__})"))
            raise
        outcome.deployed = where
        self.log.append(self._done(job, where) for job in plan.jobs)
        return result.bulletin, site

    def _failed(self, plan: Plan, error: str):
        data = {"run": self.run_id, "error": error}
        return (Record(self.now, job.issue_id, "failed", data) for job in plan.jobs)

    def _done(self, job: Job, where: str) -> Record:
        if job.content is None:
            return Record(
                self.now, job.issue_id, "withdrawn", {"run": self.run_id, "deploy": where}
            )
        data = {
            "run": self.run_id,
            "reason": job.reason,
            "hash": job.content.hash,
            "corrections": job.corrections,
            "deploy": where,
            "mail": bool(job.mail and self.settings.mail),
            "parts": job.content.short_parts(),
        }
        return Record(self.now, job.issue_id, "published", data)

    def _mail(self, issue_ids: list[str], shown: Bulletin, site: Path | None, outcome: Outcome):
        mail = self.settings.mail
        assert mail is not None
        env = make_environment(self.loaded.theme)
        issues = {i.id: i for i in shown.issues}
        with tempfile.TemporaryDirectory(prefix="bulletin-mail-") as scratch:
            for issue_id in issue_ids:
                issue = issues.get(issue_id)
                if issue is None:  # withdrawn before its mail went out
                    continue
                history = self.log.history(issue_id)
                self._note_uncertain(issue_id, history.sending, outcome)
                done = history.mailed | history.sending
                todo = [r for r in self.recipients if r.address not in done]
                if todo:
                    pdf = None
                    if mail.pdf == "attach":
                        site = site or self._build_for_mail(Path(scratch) / "site")
                        pdf = (site / issue.pdf_url).read_bytes()
                    edition = compose(issue, shown, env, mail, pdf=pdf, now=self.now)
                    try:
                        self._send(issue_id, edition, todo, outcome)
                    except MailError as exc:
                        outcome.mail_error = f"{issue_id}: {exc}"
                        left = len(todo) - outcome.mailed[issue_id]
                        data = {"error": str(exc), "left": left}
                        if exc.recipient:  # surely not sent: the next run sends it
                            data["to"] = exc.recipient
                        self.log.append([Record(self.now, issue_id, "mail-failed", data)])
                        return
                counts = Counter(r.event for r in self.log.of(issue_id) if "to" in r.data)
                data = {"sent": counts["mailed"], "refused": counts["mail-refused"]}
                self.log.append([Record(self.now, issue_id, "mail-done", data)])

    def _send(self, issue_id: str, edition, todo: list[Recipient], outcome: Outcome) -> None:
        assert self.settings.mail is not None
        with Smtp(self.settings.mail) as smtp:
            for recipient in todo:
                sending = {"to": recipient.address}
                self.log.append([Record(self.now, issue_id, "mail-sending", sending)])
                try:
                    smtp.send(edition.to(recipient), recipient)
                except Refused as exc:
                    outcome.refused.append(f"{recipient.address}: {exc}")
                    data = {"to": recipient.address, "error": str(exc)}
                    self.log.append([Record(self.now, issue_id, "mail-refused", data)])
                else:
                    outcome.mailed[issue_id] += 1
                    self.log.append(
                        [Record(self.now, issue_id, "mailed", {"to": recipient.address})]
                    )

    def _note_uncertain(self, issue_id: str, addresses: set[str], outcome: Outcome) -> None:
        """A run stopped (killed, the power cut) after handing a message to the server
        and before logging that it went: it may have gone out. Never send twice: log
        it as uncertain, say so, and go on with the others."""
        for address in sorted(addresses):
            data = {"to": address}
            self.log.append([Record(self.now, issue_id, "mail-uncertain", data)])
            outcome.uncertain.append(f"{issue_id} to {address}")

    def _build_for_mail(self, site: Path) -> Path:
        """A mail retry in a later run needs the PDF again: build it, deploy nothing."""
        building.build(self.root, site, Visibility(self.now), pdf=True)
        return site

    def _refuse_clock_behind_log(self) -> None:
        last = self.log.last_time
        if last is not None and self.now < last:
            raise BulletinError.single(
                f"the clock ({self.now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC) is earlier than "
                f"the last record of the publish log ({last:%Y-%m-%d %H:%M:%S} UTC)",
                self.root / LOG_FILE,
                len(self.log.records) and self.log.records[-1].line,
                hint="publishing for an earlier moment would take issues down again: check "
                "the system clock, or the --now you gave",
            )


def _intent(job: Job) -> dict:
    """What a `started` record announces: why, and the content about to go out."""
    data: dict = {"reason": job.reason}
    if job.content is not None:
        data["hash"] = job.content.hash
    return data


def _fingerprint(shown: Bulletin, plan: Plan) -> dict[str, str]:
    """The content hash of every issue on the site, as planned (before the build)."""
    hashes = {i.id: content_of(i).hash for i in shown.issues}
    for job in plan.jobs:
        if job.content is not None and hashes.get(job.issue_id) != job.content.hash:
            hashes[job.issue_id] = job.content.hash  # changed since planning: caught below
    return hashes


def _refuse_changed_meanwhile(before: dict[str, str], built: Bulletin) -> None:
    """The log must name the content that went out: if a file changed while the site
    was being built, give up this run; the next one plans again with the new files."""
    after = {i.id: content_of(i).hash for i in built.issues}
    if before != after:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        raise DeployError(
            f"files of issue {', '.join(changed)} changed while the site was being built; "
            "nothing was deployed, the next run publishes the new version"
        )


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    summary = lines[0] if lines else text
    return summary + (f" (and {len(lines) - 1} more line(s))" if len(lines) > 1 else "")
