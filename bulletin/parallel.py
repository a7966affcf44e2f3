"""Spread a long list of independent jobs over the machine's cores, when that is safe.

Parsing Markdown and rendering pages are CPU-bound Python, so a cold build uses one
process per core: this process takes one share of the items and forked children the
others. Forked children inherit everything already loaded, so they are sent only
positions in the list, and send back small results. Forking is only done where it
is safe: on a system with fork, with more than one core, and while this process runs
no other thread (the preview server and the progress bar run threads, and a child
forked from them could inherit a held lock).
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

_job: tuple[Callable[[list[Any]], list[Any]], Sequence[Any]] | None = None


def can_fork() -> bool:
    return hasattr(os, "fork") and (os.cpu_count() or 1) > 1 and threading.active_count() == 1


def run_split(
    function: Callable[[list[Any]], list[Any]], items: Sequence[Any], *, minimum: int
) -> list[Any]:
    """function(some items) -> their results, for all items; in parallel when there
    are at least `minimum` items and forking is safe. Results come in no set order."""
    global _job
    cores = os.cpu_count() or 1
    if len(items) < minimum or not can_fork():
        return function(list(items))
    shares = [list(range(start, len(items), cores)) for start in range(cores)]
    _job = (function, items)
    # objects made so far go to a generation the collector never visits, so the
    # children's collections do not write to (and so copy) the memory they share
    gc.freeze()
    import multiprocessing  # here: a rebuild of a few pages does without it

    try:
        with multiprocessing.get_context("fork").Pool(cores - 1) as pool:
            others = pool.map_async(_run_share, shares[1:])
            results = function([items[i] for i in shares[0]])
            for share in others.get():
                results.extend(share)
    finally:
        _job = None
        gc.unfreeze()
    return results


def _run_share(positions: list[int]) -> list[Any]:
    assert _job is not None, "run in a forked child only"
    function, items = _job
    return function([items[i] for i in positions])
