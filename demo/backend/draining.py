"""Graceful shutdown, between the worker (which receives SIGTERM) and the app (which ends its
tracking streams and says "draining" on /healthy).

On SIGTERM the worker calls `begin()`: the hooks the app registered run (streams end with an
error part at their next frame), and the worker keeps serving until `busy()` says no stream is
left, for a moment at least so that health probes see "draining"; then it stops accepting and
finishes what is in flight. One worker process serves one app, so this state is per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_started = threading.Event()
_hooks: list[Callable[[], None]] = []
_busy: list[Callable[[], bool]] = []


def register(on_drain: Callable[[], None], busy: Callable[[], bool]) -> None:
    """`on_drain` runs once when draining begins; `busy` says whether work is still running."""
    _hooks.append(on_drain)
    _busy.append(busy)


def begin() -> None:
    if _started.is_set():
        return
    _started.set()
    for hook in _hooks:
        try:
            hook()
        except Exception:  # the others must still run
            log.exception("a shutdown hook failed")


def is_draining() -> bool:
    return _started.is_set()


def busy() -> bool:
    return any(check() for check in _busy)
