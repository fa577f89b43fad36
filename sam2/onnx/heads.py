"""Choosing among the decoder graph's mask tokens, in NumPy (the rules of the torch heads).

The decoder graph returns every token's output (token 0 = single mask, 1.. = multimask).
Which ones a call keeps depends on the call, as in ``MaskDecoder.forward`` and
``SAM2Base.predict_masks``:

* multimask: tokens 1..M; the tracker then keeps the one with the best predicted IoU;
* single mask with ``dynamic_multimask_via_stability``: token 0 where its mask is stable
  (area at +delta / area at -delta >= thresh), else the best multimask token;
* the object pointer comes from token 0 unless multimask outputs and
  ``use_multimask_token_for_obj_ptr`` pick the best token's.
"""

from dataclasses import dataclass
from typing import Mapping, Tuple

import numpy as np

# Logit written where an object has no prediction (absent or never prompted).
NO_OBJ_SCORE = -1024.0


@dataclass
class DecoderOutput:
    """Raw decoder graph outputs for B prompt sets (see :class:`sam2.onnx.graphs.DecoderGraph`)."""

    masks: np.ndarray  # (B, 1+M, h, w)
    iou: np.ndarray  # (B, 1+M)
    obj_ptr: np.ndarray  # (B, 1+M, C)
    object_score_logits: np.ndarray  # (B, 1)


def stability_scores(mask_logits: np.ndarray, delta: float) -> np.ndarray:
    """Area(logit > delta) / area(logit > -delta) per mask, 1 for empty masks; (..., H, W) -> (...)."""
    flat = mask_logits.reshape(*mask_logits.shape[:-2], -1)
    inner = np.sum(flat > delta, axis=-1).astype(np.float32)
    outer = np.sum(flat > -delta, axis=-1).astype(np.float32)
    return np.where(outer > 0, inner / np.maximum(outer, 1), np.float32(1.0))


def decoder_masks(
    out: DecoderOutput, multimask_output: bool, settings: Mapping
) -> Tuple[np.ndarray, np.ndarray]:
    """What ``MaskDecoder.forward`` returns: masks (B, M or 1, h, w) and IoU (B, M or 1)."""
    masks, iou = out.masks, out.iou
    if multimask_output:
        return masks[:, 1:], iou[:, 1:]
    if not settings.get("dynamic_multimask_via_stability", False):
        return masks[:, 0:1], iou[:, 0:1]
    rows = np.arange(masks.shape[0])
    best = 1 + np.argmax(iou[:, 1:], axis=-1)
    stable = (
        stability_scores(masks[:, 0], settings["dynamic_multimask_stability_delta"])
        >= (settings["dynamic_multimask_stability_thresh"])
    )
    pick = np.where(stable, 0, best)
    return masks[rows, pick][:, None], iou[rows, pick][:, None]


@dataclass
class TrackerPrediction:
    """``SAM2Base.predict_masks`` in NumPy: the chosen mask per object and its pointer."""

    mask_logits: np.ndarray  # (B, 1, h, w), NO_OBJ_SCORE where the object is judged absent
    obj_ptr: np.ndarray  # (B, C)
    object_score_logits: np.ndarray  # (B, 1)


def tracker_prediction(out: DecoderOutput, multimask_output: bool, settings: Mapping) -> TrackerPrediction:
    masks, iou = decoder_masks(out, multimask_output, settings)
    if settings["pred_obj_scores"]:
        appearing = out.object_score_logits > 0  # (B, 1)
        masks = np.where(appearing[:, :, None, None], masks, np.float32(NO_OBJ_SCORE)).astype(np.float32)
    rows = np.arange(masks.shape[0])
    token = np.zeros(masks.shape[0], dtype=np.int64)
    if multimask_output:
        best = np.argmax(iou, axis=-1)
        masks = masks[rows, best][:, None]
        if settings["use_multimask_token_for_obj_ptr"]:
            token = 1 + best
    return TrackerPrediction(masks, out.obj_ptr[rows, token], out.object_score_logits)


def use_multimask(settings: Mapping, is_init_cond_frame: bool, num_points: int) -> bool:
    """Three candidate masks only for the first click(s) of a conditioning frame."""
    return bool(
        settings["multimask_output_in_sam"]
        and (is_init_cond_frame or settings["multimask_output_for_tracking"])
        and settings["multimask_min_pt_num"] <= num_points <= settings["multimask_max_pt_num"]
    )
