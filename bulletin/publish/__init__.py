"""Scheduled publishing: `bulletin schedule`, `bulletin publish [--watch]`, and the
content freeze that `bulletin check` enforces.

    settings.py    deploy: and mail: in bulletin.yaml
    log.py         the publish log (publish-log.jsonl), append-only
    lock.py        one publish run at a time (flock)
    content.py     the content hash of an issue, by file
    plan.py        what is due at a moment; content changed after publication
    deploy.py      a folder swapped in atomically, or a command
    recipients.py  recipients.txt
    mail.py        the e-mail edition and SMTP
    publisher.py   one run: lock, plan, build, deploy, log, mail
    watch.py       --watch: sleep until the next publish time, retry with back-off
    overview.py    `bulletin schedule`: states, next time, warnings
    checks.py      what `bulletin check` adds

The build knows nothing of this package: the publisher calls `bulletin.build.build`.
"""
