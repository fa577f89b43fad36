"""What both video predictors do to their objects' prompts and outputs (no tensor work, no torch).

The torch predictor (:mod:`sam2.sam2_video_predictor`) and the onnxruntime one
(:mod:`sam2.onnx.video_predictor`) run different models on the same records
(:mod:`sam2.video.tracks`); the rules of which output goes where when a prompt is added,
cleared or an object removed, and which frames a propagation visits, live here once.
A ``state`` is either predictor's state: an :class:`~sam2.video.tracks.ObjectRoster` with
``num_frames`` and a ``conditioned`` cache.
"""

from collections import defaultdict
from typing import Callable, Dict, List, Optional

import numpy as np

from sam2.video.tracks import ObjectTrack, TrackedOutput


def check_frame_idx(state, frame_idx) -> int:
    if isinstance(frame_idx, bool) or not isinstance(frame_idx, (int, np.integer)):
        raise TypeError(f"frame_idx must be an integer, got {frame_idx!r}")
    if not 0 <= frame_idx < state.num_frames:
        raise IndexError(
            f"frame_idx {frame_idx} is out of range: the video has {state.num_frames} frames "
            f"(0..{state.num_frames - 1})"
        )
    return int(frame_idx)


def prompted_frame_kind(track: ObjectTrack, frame_idx: int, add_all_frames_to_correct_as_cond: bool):
    """(is_init_cond_frame, reverse, is_cond) of a prompt on a frame.

    A prompt on a frame the object was not tracked on starts a track there; one on a tracked
    frame corrects it, in the direction it was tracked, as a prompted frame only if configured.
    """
    is_init = frame_idx not in track.frames_tracked
    reverse = False if is_init else track.frames_tracked[frame_idx]
    return is_init, reverse, is_init or bool(add_all_frames_to_correct_as_cond)


def pending_is_cond(state, frame_idx: int) -> bool:
    """Whether a frame's masks are read with pending prompted-frame outputs first."""
    return any(frame_idx in o.pending.cond for o in state.objects)


def clear_prompts(track: ObjectTrack, frame_idx: int) -> None:
    """Drop an object's prompts on a frame; its consolidated result there becomes a tracked one."""
    track.point_inputs.pop(frame_idx, None)
    track.mask_inputs.pop(frame_idx, None)
    track.pending.cond.pop(frame_idx, None)
    track.pending.tracked.pop(frame_idx, None)
    out = track.outputs.cond.pop(frame_idx, None)
    if out is not None:
        track.outputs.tracked[frame_idx] = out
        track.frames_tracked.pop(frame_idx, None)


def remove_object(
    state,
    obj_id,
    strict: bool,
    need_output: bool,
    reset: Callable[[object], None],
    frame_masks: Callable[[object, int, bool], object],
):
    """``remove_object`` of the predictors: (remaining obj_ids, [(frame_idx, masks)] of its prompted frames).

    ``reset(state)``: the predictor's reset_state (removing the last object resets the state);
    ``frame_masks(state, frame_idx, is_cond)``: every object's masks on a frame.
    """
    idx = state.index_of(obj_id)
    if idx is None:
        if strict:
            raise KeyError(f"cannot remove object id {obj_id}: no such object (objects: {state.obj_ids})")
        return state.obj_ids, []
    if len(state.objects) == 1:
        reset(state)
        return state.obj_ids, []
    track = state.objects[idx]
    prompted = sorted(set(track.point_inputs) | set(track.mask_inputs))
    del state.objects[idx]
    # Cached conditioned features are keyed by object id, and ids may be reused.
    state.conditioned.clear()
    updated = []
    if need_output:
        for frame_idx in prompted:
            updated.append((frame_idx, frame_masks(state, frame_idx, pending_is_cond(state, frame_idx))))
    return state.obj_ids, updated


def unencoded_by_frame(state) -> Dict[int, List[TrackedOutput]]:
    """Outputs of clicks not consolidated yet whose memories are still to encode, by frame
    (each frame's memories are encoded in one batch). Raises if there is no object."""
    if not state.objects:
        raise RuntimeError("no object has prompts yet: add points, a box or a mask first")
    by_frame: Dict[int, List[TrackedOutput]] = defaultdict(list)
    for track in state.objects:
        for kind in (track.pending.tracked, track.pending.cond):
            for frame_idx, out in kind.items():
                if out.memory is None:
                    by_frame[frame_idx].append(out)
    return dict(by_frame)


def consolidate_pending(state, clear_span: Optional[int] = None) -> None:
    """Move pending outputs (memories encoded by now) into the tracking context.

    ``clear_span``: with clear_non_cond_mem_around_input, the tracked frames either side of
    each prompt that are dropped (:func:`clear_tracked_around`); None when not configured.
    """
    for track in state.objects:
        for is_cond in (False, True):
            for frame_idx, out in track.pending.of(is_cond).items():
                track.outputs.of(is_cond)[frame_idx] = out
                if clear_span is not None:
                    clear_tracked_around(state, frame_idx, clear_span)
            track.pending.of(is_cond).clear()
        if not track.outputs.cond:
            raise RuntimeError(
                f"object {track.obj_id} has no prompts on any frame: add points, a box or a mask, or remove it"
            )
        # A prompted frame's result replaces a tracked one of the same frame.
        for frame_idx in track.outputs.cond:
            track.outputs.tracked.pop(frame_idx, None)


def clear_tracked_around(state, frame_idx: int, span: int) -> None:
    """Drop tracked memories near a corrected frame (they may hold the old appearance)."""
    for track in state.objects:
        for t in range(frame_idx - span, frame_idx + span + 1):
            track.outputs.tracked.pop(t, None)


def propagation_order(
    state, start_frame_idx: Optional[int], max_frame_num_to_track: Optional[int], reverse: bool
) -> List[int]:
    """The frames ``propagate_in_video`` visits (default start: the first prompted frame)."""
    num_frames = state.num_frames
    if start_frame_idx is None:
        start_frame_idx = min(t for track in state.objects for t in track.outputs.cond)
    start_frame_idx = check_frame_idx(state, start_frame_idx)
    if max_frame_num_to_track is None:
        max_frame_num_to_track = num_frames
    if max_frame_num_to_track < 0:
        raise ValueError(f"max_frame_num_to_track must be >= 0, got {max_frame_num_to_track}")
    if reverse:
        end = max(start_frame_idx - max_frame_num_to_track, 0)
        return list(range(start_frame_idx, end - 1, -1)) if start_frame_idx > 0 else []
    end = min(start_frame_idx + max_frame_num_to_track, num_frames - 1)
    return list(range(start_frame_idx, end + 1))
