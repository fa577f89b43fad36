"""When a tracked output can be kept instead of computed again (no tensor work, no torch).

Tracking an object onto a frame reads its memories (:class:`~sam2.video.memory_policy.MemorySelection`)
and nothing else that changes: an output computed on that frame, in the same direction, from the
very same memories is what running it again would give. A re-track after a click on one object
then runs that object alone. Both trackers (torch and onnxruntime) apply this one rule.
"""

from typing import Optional

from sam2.video.memory_policy import MemorySelection
from sam2.video.tracks import ObjectTrack, TrackedOutput


def memory_fingerprint(selection: MemorySelection) -> tuple:
    """What a tracked output was computed from, comparable after its memories are gone.

    Outputs are named by serial, not by object id or frame: a click replaces an output by a
    new one (a new serial), and ids of removed objects may be given to new ones.
    """
    return (
        tuple((slot, out.serial) for slot, out in selection.spatial),
        tuple((distance, out.serial) for distance, out in selection.pointers),
    )


def still_valid(
    track: ObjectTrack, frame_idx: int, reverse: bool, selection: MemorySelection, enabled: bool = True
) -> Optional[TrackedOutput]:
    """The object's stored output on the frame, if running it again would give the same one.

    ``enabled``: False where outputs depend on more than the memories (training; memories
    encoded from non-overlapping masks depend on the other objects' masks on the frame).
    """
    previous = track.outputs.tracked.get(frame_idx)
    if (
        not enabled
        or previous is None
        or previous.read_from is None
        or frame_idx not in track.frames_tracked
        or bool(track.frames_tracked[frame_idx]) != bool(reverse)
        # Kept compactly (bounded memory, sam2.video.compact): the memory is dropped and the
        # logits are no longer whole.
        or previous.memory is None
    ):
        return None
    return previous if previous.read_from == memory_fingerprint(selection) else None
