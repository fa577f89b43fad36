"""A fair admission gate for model calls: at most N run at once, clicks mostly before propagation.

Why: on a CPU, every model call already uses all cores (intra-op threads); eight users' calls at
once oversubscribe them many times over, and a propagation competes with every click. Measured
with tools/loadtest.py (8 users, micro model, 2 busy cores), click p50/p95 in ms: 1 slot 295/621,
2 slots 136/341, unbounded 84/431 (and the propagation gets no priority rules at all). The
default is 2 slots (MODEL_CONCURRENCY). The gate is held for ONE call (one click,
one propagated frame), never for a whole propagation, so a propagating user delays another
user's click by at most one frame step. Slots are handed over directly to the next waiter, so a
propagation that releases and re-acquires in a loop cannot barge ahead of waiting clicks. Clicks
go first, but after `burst` clicks in a row a waiting propagation step gets its turn, so a crowd
of clicking users cannot starve a propagation either.
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
    def __init__(self, slots: int, burst: int = 2):
        if slots < 1:
            raise ValueError("a compute gate needs at least one slot")
        self.slots = slots
        self.burst = burst
        self._streak = 0  # interactive hand-overs in a row while background work waited
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
            interactive, background = self._waiting
            if background and (not interactive or self._streak >= self.burst):
                self._streak = 0
                background.popleft().set()  # the slot passes straight to this waiter
            elif interactive:
                self._streak = self._streak + 1 if background else 0
                interactive.popleft().set()
            else:
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
