"""Running the per-frame model for the video predictor: objects batched, memories from the bank.

The predictor decides *what* to run (which frames, which objects, in which direction);
these functions run it: they fetch the frame's image features (cached), pick each object's
memories (:mod:`sam2.video.memory_bank`), reuse memory-conditioned features that are still
valid, run every object of a frame through the heads and the memory encoder in one batch,
fill small holes, and return compact :class:`~sam2.video.state.TrackedOutput` records.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from sam2.modeling.frame_types import FrameFeatures, FrameOutput
from sam2.video.compact import stored_mask_logits
from sam2.video.hole_filling import fill_small_holes
from sam2.video.memory_bank import MemoryPolicy, MemorySelection, build_memory_context, group_by_layout
from sam2.video.retrack import memory_fingerprint, still_valid
from sam2.video.state import InferenceState, ObjectTrack, TrackedOutput


def frame_features(model, state: InferenceState, frame_idx: int) -> FrameFeatures:
    """Image features of a frame (batch 1), from the state's cache or the image encoder."""
    backbone_out = state.features.get(frame_idx)
    if backbone_out is None:
        image = state.frames.model_input(frame_idx, state.device)  # (1, 3, S, S) float32
        backbone_out = state.features.put(frame_idx, model.forward_image(image))
    return model.frame_features(backbone_out)


def conditioned_features(
    model,
    state: InferenceState,
    features: FrameFeatures,
    tracks: Sequence[ObjectTrack],
    frame_idx: int,
    reverse: bool,
    selections: Optional[Sequence[MemorySelection]] = None,
) -> torch.Tensor:
    """Memory-conditioned features (N, C, H, W) of non-initial ``tracks`` on a frame.

    Objects whose memories are unchanged since the last time are served from the state's
    cache; the others run through memory attention in batches of equal memory layout.
    ``selections``: the tracks' memories, if already chosen.
    """
    if selections is None:
        selections = [_select(model, state, t, frame_idx, reverse) for t in tracks]
    results: List[Optional[torch.Tensor]] = [None] * len(tracks)
    cache = state.conditioned
    todo = []
    for i, (track, sel) in enumerate(zip(tracks, selections)):
        results[i] = cache.lookup((track.obj_id, frame_idx, reverse), sel)
        if results[i] is None:
            todo.append(i)
    if todo:
        # The first self-attention depends on the frame alone: once per frame, for every object.
        first = cache.first_self_attention(frame_idx, lambda: model.first_self_attention(features))
        for group in group_by_layout([selections[i] for i in todo]):
            members = [todo[g] for g in group]
            memory = build_memory_context(model, [selections[i] for i in members], state.memory_horizon, state.device)
            conditioned = model.condition(features.expand(len(members)), memory, first)
            for k, i in enumerate(members):
                results[i] = conditioned[k : k + 1]
                cache.store((tracks[i].obj_id, frame_idx, reverse), selections[i], results[i])
    return results[0] if len(results) == 1 else torch.cat(results, dim=0)


def track_objects(
    model, state: InferenceState, tracks: Sequence[ObjectTrack], frame_idx: int, reverse: bool
) -> Tuple[List[TrackedOutput], torch.Tensor]:
    """Track ``tracks`` (all with memories) onto a frame in one batch, memories encoded.

    An object whose stored output on this frame was computed, in this direction, from the
    very memories it would read now keeps that output (:mod:`sam2.video.retrack`): a re-track
    after a click on one object runs that object alone.
    Returns one output per track (to store) and the mask logits (N, 1, S/4, S/4) on the device.
    """
    selections = [_select(model, state, t, frame_idx, reverse) for t in tracks]
    outputs = [_still_valid(model, t, frame_idx, reverse, sel) for t, sel in zip(tracks, selections)]
    masks: List[Optional[torch.Tensor]] = [
        None if o is None else stored_mask_logits(o, state.device) for o in outputs
    ]
    todo = [i for i, o in enumerate(outputs) if o is None]
    if todo:
        features = frame_features(model, state, frame_idx)
        run = [tracks[i] for i in todo]
        conditioned = conditioned_features(
            model, state, features, run, frame_idx, reverse, [selections[i] for i in todo]
        )
        fresh, fresh_masks = _store(model, state, model.step(features.expand(len(todo)), None, conditioned=conditioned))
        for k, i in enumerate(todo):
            fresh[k].read_from = memory_fingerprint(selections[i])
            outputs[i], masks[i] = fresh[k], fresh_masks[k : k + 1]
    return outputs, masks[0] if len(masks) == 1 else torch.cat(masks, dim=0)


def _select(model, state: InferenceState, track: ObjectTrack, frame_idx: int, reverse: bool) -> MemorySelection:
    return MemoryPolicy.of(model).select(
        frame_idx, track.outputs.cond, track.outputs.tracked, state.memory_horizon, reverse, model.training
    )


def _still_valid(
    model, track: ObjectTrack, frame_idx: int, reverse: bool, selection: MemorySelection
) -> Optional[TrackedOutput]:
    # Non-overlapping memories depend on the other objects' masks on the frame.
    enabled = not model.training and not model.non_overlap_masks_for_mem_enc
    return still_valid(track, frame_idx, reverse, selection, enabled)


def predict_prompted(
    model,
    state: InferenceState,
    track: ObjectTrack,
    frame_idx: int,
    is_init_cond_frame: bool,
    reverse: bool,
    point_inputs: Optional[dict] = None,
    mask_inputs: Optional[torch.Tensor] = None,
    prev_mask_logits: Optional[torch.Tensor] = None,
) -> TrackedOutput:
    """One object on a prompted frame (its memory is encoded later, when tracking starts)."""
    features = frame_features(model, state, frame_idx)
    conditioned = None
    if not is_init_cond_frame and not (mask_inputs is not None and model.use_mask_input_as_output_without_sam):
        conditioned = conditioned_features(model, state, features, [track], frame_idx, reverse)
    out = model.step(
        features, None, point_inputs, mask_inputs, is_init_cond_frame, prev_mask_logits,
        run_memory_encoder=False, conditioned=conditioned,
    )
    outputs, _ = _store(model, state, out)
    return outputs[0]


def encode_pending_memories(model, state: InferenceState, by_frame: Dict[int, List[TrackedOutput]]) -> None:
    """Encode the memories of prompted-frame outputs (in place), one batch per frame."""
    size = (model.image_size, model.image_size)
    for frame_idx, outs in by_frame.items():
        features = frame_features(model, state, frame_idx).expand(len(outs))
        low_res = torch.cat([stored_mask_logits(o, state.device) for o in outs], dim=0)
        high_res = F.interpolate(low_res, size=size, mode="bilinear", align_corners=False)
        scores = torch.cat([o.object_score_logits.to(state.device) for o in outs], dim=0)
        memory, memory_pos = model.encode_memory(features, high_res, scores, is_mask_from_pts=True)
        memory = _to_storage(state, memory)
        pos = shared_memory_pos(state, memory_pos)
        for k, o in enumerate(outs):
            o.memory, o.memory_pos = memory[k : k + 1], pos


def shared_memory_pos(state: InferenceState, memory_pos: Optional[List[torch.Tensor]]) -> Optional[torch.Tensor]:
    """The memory position encoding is the same everywhere: one (1, mem_dim, H, W) copy per state."""
    if memory_pos is None:
        return None
    if state.memory_pos is None:
        state.memory_pos = memory_pos[-1][0:1].clone()
    return state.memory_pos


def _to_storage(state: InferenceState, memory: torch.Tensor) -> torch.Tensor:
    # Memories are stored in bfloat16, as the official predictor does: half the memory,
    # and part of the published numbers. One copy for the batch (its slices are views).
    return memory.to(torch.bfloat16).to(state.storage_device, non_blocking=True)


def _store(model, state: InferenceState, out: FrameOutput) -> Tuple[List[TrackedOutput], torch.Tensor]:
    masks = out.mask_logits
    if model.fill_hole_area > 0:
        masks = fill_small_holes(masks, model.fill_hole_area)
    stored_masks = masks.to(state.storage_device, non_blocking=True)
    memory = None if out.memory is None else _to_storage(state, out.memory)
    pos = shared_memory_pos(state, out.memory_pos)
    outputs = [
        TrackedOutput(
            mask_logits=stored_masks[k : k + 1],
            object_score_logits=out.object_score_logits[k : k + 1],
            obj_ptr=out.obj_ptr[k : k + 1],
            memory=None if memory is None else memory[k : k + 1],
            memory_pos=None if memory is None else pos,
        )
        for k in range(masks.size(0))
    ]
    return outputs, masks
