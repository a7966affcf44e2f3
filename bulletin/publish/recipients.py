"""The recipients of the e-mail edition: a plain file in the bulletin, one address a line.

# comments and blank lines are ignored
李涛 <litao@example.org>
office@example.org
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bulletin.errors import Report
from bulletin.load.yamlfile import read_text
from bulletin.publish.settings import address, bare_address


@dataclass(frozen=True)
class Recipient:
    written: str  # as in the file, for the To: header
    line: int

    @property
    def address(self) -> str:
        """The bare address, lower-cased: the key the publish log remembers."""
        return bare_address(self.written).lower()


def load_recipients(path: Path, report: Report) -> list[Recipient]:
    source = read_text(path, report)
    if source is None:
        return []
    recipients: dict[str, Recipient] = {}
    for number, raw in enumerate(source.split("\n"), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            recipient = Recipient(address(line), number)
        except ValueError as exc:
            report.error(
                f"recipient {exc}",
                path,
                number,
                hint="write one address a line: name@example.org or 姓名 <name@example.org>",
            )
            continue
        first = recipients.setdefault(recipient.address, recipient)
        if first is not recipient:
            report.warn(
                f"{recipient.address} is listed twice; it gets one e-mail",
                path,
                number,
                hint=f"remove this line (the address is on line {first.line})",
            )
    return list(recipients.values())
