"""A fair admission gate for model calls: at most N run at once, clicks before propagation steps.

Why: on a CPU, every model call already uses all cores (intra-op threads). Eight users' calls
running at once oversubscribe the cores many times over and everything slows to a crawl
(measured: 60 s p95 for clicks, propagation starved). The gate is held for ONE call (one click,
one propagated frame), never for a whole propagation, so a propagating user delays another
user's click by at most one frame step. Slots are handed over directly to the next waiter, so a
propagation that releases and re-acquires in a loop cannot barge ahead of waiting clicks.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator

from .errors import Busy

INTERACTIVE = 0  # clicks, boxes, masks, removals
BACKGROUND = 1  # propagation steps


class ComputeGate:
    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError("a compute gate needs at least one slot")
        self.slots = slots
        self._free = slots
        self._lock = threading.Lock()
        self._waiting: tuple[deque, deque] = (deque(), deque())  # by priority

    def acquire(self, priority: int = INTERACTIVE, timeout: float | None = None) -> bool:
        """Take a slot; False after `timeout` seconds (None waits for as long as it takes)."""
        with self._lock:
            if self._free > 0 and not any(self._waiting):
                self._free -= 1
                return True
            turn = threading.Event()
            self._waiting[priority].append(turn)
        if turn.wait(timeout):
            return True
        with self._lock:
            if turn.is_set():  # handed over just as the wait timed out
                return True
            self._waiting[priority].remove(turn)
            return False

    def release(self) -> None:
        with self._lock:
            for queue in self._waiting:
                if queue:
                    queue.popleft().set()  # the slot passes straight to this waiter
                    return
            self._free += 1

    @contextlib.contextmanager
    def slot(self, priority: int = INTERACTIVE, timeout: float | None = None) -> Iterator[None]:
        if not self.acquire(priority, timeout):
            raise Busy(f"The server is busy with other users' requests (waited {timeout:g} s); try again.")
        try:
            yield
        finally:
            self.release()

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._waiting)
