"""What a live stream keeps, so that its memory stays flat however long it runs.

A stream (``SAM2VideoPredictor.init_stream``) can be prompted on any frame it still holds
(the newest ``keep_frames``), and tracking a frame reads the tracked outputs of at most
``reach`` frames before it (spatial memories and object pointers). Everything older can
never be read again: :meth:`StreamWindow.forget_before` drops it after every frame.
Prompted frames are kept (every later frame attends to them); they grow with the user's
clicks, not with time.

:class:`NewestFrameSlot` is the hand-over between a capture that never waits and a tracker:
one waiting frame at most, the newest.
"""

import threading
from dataclasses import dataclass
from typing import Generic, Optional, TypeVar

from sam2.video.memory_bank import MemoryPolicy
from sam2.video.state import InferenceState

T = TypeVar("T")


# Image features are kept for the newest few frames only (17 MB a frame at 1024 px, where the
# frame itself is 3 MB): a prompt on an older held frame runs the image encoder again.
KEEP_FEATURES = 4


@dataclass(frozen=True)
class StreamWindow:
    """keep_frames: newest frames held (prompts go there); reach: frames tracking reads back;
    keep_features: newest frames whose image features are kept."""

    keep_frames: int
    reach: int
    keep_features: int = KEEP_FEATURES

    @classmethod
    def of(cls, model, keep_frames: int) -> "StreamWindow":
        policy = MemoryPolicy.of(model)
        spatial = policy.num_maskmem * policy.temporal_stride + 1
        pointers = policy.max_obj_ptrs if policy.use_obj_ptrs else 0
        keep_frames = max(1, keep_frames)
        return cls(keep_frames, max(spatial, pointers), min(keep_frames, KEEP_FEATURES))

    def oldest_held(self, newest: int) -> int:
        return max(0, newest - self.keep_frames + 1)

    def forget_before(self, state: InferenceState, newest: int) -> None:
        """Drop what no prompt on a held frame and no later frame can read any more."""
        oldest_prompt = self.oldest_held(newest)
        oldest_output = oldest_prompt - self.reach
        for track in state.objects:
            for kept in (track.outputs.tracked, track.frames_tracked):
                for t in [t for t in kept if t < oldest_output]:
                    del kept[t]
        oldest_features = max(0, newest - self.keep_features + 1)
        for t in [t for t in state.features.frame_indices() if t < oldest_features]:
            state.features.discard(t)

    def held_outputs(self, state: InferenceState) -> int:
        """Tracked outputs held across objects (what stays bounded; for tests and benchmarks)."""
        return sum(len(track.outputs.tracked) for track in state.objects)


class NewestFrameSlot(Generic[T]):
    """A mailbox of one: a frame offered while another waits replaces it (newest wins).

    What a live source needs between a capture that never waits and a tracker that takes
    as long as it takes: no queue can build up, so the delay from capture to mask stays
    bounded by one tracking step plus one wait. ``put`` hands back the frame it replaced
    (so the caller can say which one was dropped); ``take`` blocks until a frame is there.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Optional[T] = None
        self._closed = False

    def put(self, item: T) -> Optional[T]:
        with self._cond:
            if self._closed:
                raise RuntimeError("the frame slot is closed")
            dropped, self._item = self._item, item
            self._cond.notify()
            return dropped

    def take(self, timeout: Optional[float] = None) -> Optional[T]:
        """The waiting frame, or None when closed (or after ``timeout`` seconds)."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> Optional[T]:
        """Wake every taker; returns the frame that was still waiting, if any."""
        with self._cond:
            self._closed = True
            item, self._item = self._item, None
            self._cond.notify_all()
            return item
