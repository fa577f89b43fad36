"""Video segmentation and tracking on onnxruntime, without torch.

:class:`SAM2VideoPredictorONNX` has the public API of
:class:`sam2.sam2_video_predictor.SAM2VideoPredictor` (``init_state``, ``add_new_points_or_box``,
``add_new_mask``, ``propagate_in_video`` forward and reverse, ``clear_all_prompts_in_frame``,
``remove_object``, ``reset_state``, ``init_stream`` / ``track_new_frame``) and the same rules:

* which memories a frame reads: :class:`sam2.video.memory_policy.MemoryPolicy`, the torch
  tracker's own code; memory attention runs one object at a time (onnxruntime holds a batch's
  attention matrices at once), the decoder and the memory encoder all objects as one batch;
* the objects' records and bookkeeping (prompts, outputs, ids, removal): :mod:`sam2.video.tracks`,
  :mod:`sam2.video.point_prompts` and :mod:`sam2.video.bookkeeping`, shared with the torch tracker;
* a re-track keeps an object's output on a frame computed from the same memories
  (:mod:`sam2.video.retrack`, the torch tracker's rule);
* memories are stored in bfloat16 and read as float32;
* small holes of every stored mask are filled (:mod:`sam2.onnx.holes`, the torch algorithm);
* returned masks are the stored low-res logits resized (bilinear) to the video, NO_OBJ_SCORE
  where an object has no output.

Masks come back as NumPy float32 arrays (the torch predictor returns torch tensors).
"""

from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from sam2.onnx import resize
from sam2.onnx.heads import NO_OBJ_SCORE, DecoderOutput, TrackerPrediction, tracker_prediction, use_multimask
from sam2.onnx.holes import fill_small_holes
from sam2.onnx.runtime import OnnxModel
from sam2.onnx.video_state import (
    FeatureCache,
    FrameFeatures,
    NormalizedFrames,
    OnnxInferenceState,
    from_bf16_bits,
    to_bf16_bits,
)
from sam2.utils.prompts import check_frame_mask_array
from sam2.video import bookkeeping
from sam2.video.memory_policy import MemoryPolicy, MemorySelection
from sam2.video.point_prompts import PointPrompt, point_prompt
from sam2.video.retrack import memory_fingerprint, still_valid
from sam2.video.sources import StreamingFrameSource, open_frame_source
from sam2.video.tracks import ObjectTrack, TrackedOutput

# Masks given as prompts become logits of +10 / -10 when used directly as outputs.
MASK_AS_OUTPUT_SCALE, MASK_AS_OUTPUT_BIAS = 20.0, -10.0


class SAM2VideoPredictorONNX:
    """The video predictor API on the graphs of an export folder (see :mod:`sam2.onnx.export`)."""

    def __init__(self, model: OnnxModel, feature_cache_bytes: int = 1024**3):
        self.model = model
        self.settings = model.settings
        self.image_size = model.image_size
        self.policy = MemoryPolicy.from_settings(self.settings)
        self.fill_hole_area = int(self.settings["fill_hole_area"])
        self.feature_cache_bytes = feature_cache_bytes

    # ------------------------------------------------------------------ sessions
    def init_state(
        self,
        video_path,
        offload_video_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        async_loading_frames: bool = False,
    ) -> OnnxInferenceState:
        """Open a video file (PyAV) or a folder of numbered JPEGs; frames are read on demand."""
        return self._new_state(open_frame_source(video_path, self.image_size))

    def init_stream(self, first_frame: np.ndarray, keep_last_frames: int = 64) -> OnnxInferenceState:
        """Start a state for frames pushed one at a time with :meth:`track_new_frame`."""
        return self._new_state(StreamingFrameSource(self.image_size, first_frame, keep_last_frames))

    def _new_state(self, source) -> OnnxInferenceState:
        state = OnnxInferenceState(source=source, features=FeatureCache(self.feature_cache_bytes))
        state.images = NormalizedFrames(
            lambda i: self.model.normalize_uint8(source.read(i)), lambda: state.num_frames
        )
        self._features(state, 0)  # warm up, like the torch predictor
        return state

    def reset_state(self, inference_state: OnnxInferenceState) -> None:
        """Forget every object, prompt and result (frames and image features stay)."""
        inference_state.objects.clear()
        inference_state.conditioned.clear()

    def close_state(self, inference_state: OnnxInferenceState) -> None:
        inference_state.close()

    def _features(self, state: OnnxInferenceState, frame_idx: int) -> FrameFeatures:
        def compute() -> FrameFeatures:
            out = self.model.run("image_encoder", image=state.images.model_input(frame_idx))
            return dict(zip(("vision_features", "image_embed", "high_res_0", "high_res_1"), out))

        return state.features.get_or_compute(frame_idx, compute)

    # ------------------------------------------------------------------ objects
    def _track_for(self, state: OnnxInferenceState, obj_id) -> Tuple[int, ObjectTrack]:
        # An export holds a fixed largest object batch: refuse more objects up front.
        return state.track_for(obj_id, lambda count: self.model.check_limit("max_objects", count))

    # ------------------------------------------------------------------ prompts
    def add_new_points_or_box(
        self,
        inference_state: OnnxInferenceState,
        frame_idx: int,
        obj_id: int,
        points=None,
        labels=None,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
        box=None,
    ):
        """Add clicks (and/or a box) for one object on one frame; returns (frame_idx, obj_ids, masks)."""
        state = inference_state
        frame_idx = bookkeeping.check_frame_idx(state, frame_idx)
        prompt = point_prompt(points, labels, box, clear_old_points, normalize_coords,
                              (state.video_width, state.video_height), self.image_size)
        obj_idx, track = self._track_for(state, obj_id)
        prompt = prompt.after(None if clear_old_points else track.point_inputs.get(frame_idx))
        self.model.check_limit("max_points", prompt.labels.shape[1] + 2)
        track.point_inputs[frame_idx] = prompt
        track.mask_inputs.pop(frame_idx, None)
        return self._predict_prompted_frame(state, obj_idx, frame_idx, points=prompt)

    def add_new_points(self, *args, **kwargs):
        """Old name of :meth:`add_new_points_or_box`."""
        return self.add_new_points_or_box(*args, **kwargs)

    def add_new_mask(self, inference_state: OnnxInferenceState, frame_idx: int, obj_id: int, mask):
        """Give an object's mask (H, W) on a frame (any size; resized to the model's input)."""
        state = inference_state
        frame_idx = bookkeeping.check_frame_idx(state, frame_idx)
        mask_arr = check_frame_mask_array(mask).astype(np.float32)[None, None]
        obj_idx, track = self._track_for(state, obj_id)
        size = (self.image_size, self.image_size)
        if mask_arr.shape[-2:] != size:
            mask_arr = (resize.bilinear_antialias(mask_arr, size) >= 0.5).astype(np.float32)
        track.mask_inputs[frame_idx] = mask_arr
        track.point_inputs.pop(frame_idx, None)
        return self._predict_prompted_frame(state, obj_idx, frame_idx, mask=mask_arr)

    def _predict_prompted_frame(
        self,
        state,
        obj_idx,
        frame_idx,
        points: Optional[PointPrompt] = None,
        mask: Optional[np.ndarray] = None,
    ):
        track = state.objects[obj_idx]
        is_init, reverse, is_cond = bookkeeping.prompted_frame_kind(
            track, frame_idx, self.settings["add_all_frames_to_correct_as_cond"]
        )
        prev_logits = None
        if points is not None:
            prev = track.output_on(frame_idx, is_cond)
            if prev is not None:
                prev_logits = np.clip(prev.mask_logits, -32.0, 32.0)
        features = self._features(state, frame_idx)
        if mask is not None and self.settings["use_mask_input_as_output_without_sam"]:
            prediction = self._mask_as_prediction(features, mask)
        else:
            if is_init:
                conditioned = features["image_embed"]
            else:
                selection = self._select(state, track, frame_idx, reverse)
                conditioned = self._condition(
                    state, features, [(track.obj_id, frame_idx, reverse)], [selection]
                )
            if mask is not None:  # a mask prompt the decoder reads (configs without mask-as-output)
                side = 4 * conditioned.shape[-1]
                prev_logits = resize.bilinear_antialias(mask, (side, side))
            prediction = self._decode(
                features,
                conditioned,
                points,
                prev_logits,
                use_multimask(self.settings, is_init, 0 if points is None else points.labels.shape[1]),
            )
        track.pending.of(is_cond)[frame_idx] = self._store(prediction, memory=None)[0]
        return frame_idx, state.obj_ids, self._frame_masks_at_video_res(state, frame_idx, is_cond)

    def clear_all_prompts_in_frame(
        self, inference_state: OnnxInferenceState, frame_idx: int, obj_id: int, need_output: bool = True
    ):
        """Remove an object's prompts on a frame; its result there turns into a tracked one."""
        state = inference_state
        frame_idx = bookkeeping.check_frame_idx(state, frame_idx)
        _, track = self._track_for(state, obj_id)
        bookkeeping.clear_prompts(track, frame_idx)
        if not need_output:
            return None
        is_cond = bookkeeping.pending_is_cond(state, frame_idx)
        return frame_idx, state.obj_ids, self._frame_masks_at_video_res(state, frame_idx, is_cond)

    def remove_object(
        self, inference_state: OnnxInferenceState, obj_id: int, strict: bool = False, need_output: bool = True
    ):
        """Remove an object; returns (remaining obj_ids, [(frame_idx, masks)] of its prompted frames)."""
        return bookkeeping.remove_object(
            inference_state, obj_id, strict, need_output, self.reset_state, self._frame_masks_at_video_res
        )

    # ------------------------------------------------------------------ tracking
    def propagate_in_video_preflight(self, inference_state: OnnxInferenceState) -> None:
        """Encode memories of pending clicks and make them part of the tracking context."""
        state = inference_state
        for frame_idx, outs in bookkeeping.unencoded_by_frame(state).items():
            features = self._features(state, frame_idx)
            memory = self._encode_memory(
                features,
                np.concatenate([o.mask_logits for o in outs]),
                np.concatenate([o.object_score_logits for o in outs]),
                from_clicks=True,
            )
            for k, o in enumerate(outs):
                o.memory = memory[k : k + 1]
        bookkeeping.consolidate_pending(state, self._clear_span())

    def propagate_in_video(
        self,
        inference_state: OnnxInferenceState,
        start_frame_idx: Optional[int] = None,
        max_frame_num_to_track: Optional[int] = None,
        reverse: bool = False,
    ) -> Iterator[Tuple[int, List[int], np.ndarray]]:
        """Track every object from ``start_frame_idx`` (default: the first prompted frame).

        Yields (frame_idx, obj_ids, video_res_masks (num_objects, 1, H, W) float32 logits) per frame.
        """
        state = inference_state
        self.propagate_in_video_preflight(state)
        obj_ids = state.obj_ids
        order = bookkeeping.propagation_order(state, start_frame_idx, max_frame_num_to_track, reverse)
        for frame_idx in order:
            yield frame_idx, obj_ids, self._track_frame(state, frame_idx, reverse)

    def track_new_frame(self, inference_state: OnnxInferenceState, frame: np.ndarray):
        """Streaming: append a frame and track every object on it; returns (frame_idx, obj_ids, masks)."""
        state = inference_state
        if not isinstance(state.source, StreamingFrameSource):
            raise TypeError("track_new_frame needs a state from init_stream()")
        frame_idx = state.source.append(frame)
        *_, last = self.propagate_in_video(state, start_frame_idx=frame_idx, max_frame_num_to_track=0)
        return last

    def _track_frame(self, state: OnnxInferenceState, frame_idx: int, reverse: bool) -> np.ndarray:
        per_object: List[Optional[np.ndarray]] = [None] * len(state.objects)
        to_track = []
        for i, track in enumerate(state.objects):
            prompted = track.outputs.cond.get(frame_idx)
            if prompted is not None:
                per_object[i] = prompted.mask_logits
                if self.settings["clear_non_cond_mem_around_input"]:
                    self._clear_non_cond_mem_around_input(state, frame_idx)
            else:
                to_track.append(i)
        if to_track:
            tracks = [state.objects[i] for i in to_track]
            for k, out in enumerate(self._track_objects(state, tracks, frame_idx, reverse)):
                tracks[k].outputs.tracked[frame_idx] = out
                per_object[to_track[k]] = out.mask_logits
        for track in state.objects:
            track.frames_tracked[frame_idx] = reverse
        return self._to_video_res(state, np.concatenate(per_object, axis=0))

    def _track_objects(
        self, state: OnnxInferenceState, tracks: Sequence[ObjectTrack], frame_idx: int, reverse: bool
    ) -> List[TrackedOutput]:
        """Outputs of ``tracks`` on a frame: kept where still valid (sam2.video.retrack), the
        others run as one batch (memory attention by memory layout, decoder, memory encoder)."""
        selections = [self._select(state, t, frame_idx, reverse) for t in tracks]
        outputs = [self._still_valid(t, frame_idx, reverse, sel) for t, sel in zip(tracks, selections)]
        todo = [i for i, o in enumerate(outputs) if o is None]
        if not todo:
            return outputs
        features = self._features(state, frame_idx)
        keys = [(tracks[i].obj_id, frame_idx, reverse) for i in todo]
        conditioned = self._condition(state, features, keys, [selections[i] for i in todo])
        prediction = self._decode(features, conditioned, None, None, use_multimask(self.settings, False, 0))
        # The memory encoder reads the unfilled masks (as the torch tracker does).
        memory = self._encode_memory(
            features, prediction.mask_logits, prediction.object_score_logits, from_clicks=False
        )
        for i, out in zip(todo, self._store(prediction, memory)):
            out.read_from = memory_fingerprint(selections[i])
            outputs[i] = out
        return outputs

    @staticmethod
    def _still_valid(
        track: ObjectTrack, frame_idx: int, reverse: bool, selection: MemorySelection
    ) -> Optional[TrackedOutput]:
        # Always on: no training here, and exports refuse non_overlap_masks_for_mem_enc.
        return still_valid(track, frame_idx, reverse, selection)

    def _clear_span(self) -> Optional[int]:
        """Frames either side of a corrected one whose tracked memories are dropped, if configured."""
        if not self.settings["clear_non_cond_mem_around_input"]:
            return None
        return self.policy.temporal_stride * self.policy.num_maskmem

    def _clear_non_cond_mem_around_input(self, state: OnnxInferenceState, frame_idx: int) -> None:
        bookkeeping.clear_tracked_around(state, frame_idx, self._clear_span())

    # ------------------------------------------------------------------ graph calls
    def _select(
        self, state: OnnxInferenceState, track: ObjectTrack, frame_idx: int, reverse: bool
    ) -> MemorySelection:
        return self.policy.select(
            frame_idx, track.outputs.cond, track.outputs.tracked, state.num_frames, reverse
        )

    def _condition(
        self,
        state: OnnxInferenceState,
        features: FrameFeatures,
        keys: Sequence[tuple],
        selections: Sequence[MemorySelection],
    ) -> np.ndarray:
        """Memory-conditioned features (N, C, h, w): from the state's cache where the memories are
        unchanged, else one memory-attention run per object. keys: (obj_id, frame, reverse).

        One object a run, not a batch: onnxruntime holds each chunk's attention matrix for the
        whole batch (3 objects x 1024 queries x 7 memory frames: 350 MB), which made 3 objects
        slower than the torch tracker and peak at 3 GB.
        """
        results: List[Optional[np.ndarray]] = [
            state.conditioned.lookup(k, sel) for k, sel in zip(keys, selections)
        ]
        max_ptrs = min(state.num_frames, self.policy.max_obj_ptrs)
        c = features["vision_features"].shape[1]
        for i in [i for i, r in enumerate(results) if r is None]:
            selection = selections[i]
            slots, distances = selection.layout
            self.model.check_limit("max_memory_frames", len(slots))
            self.model.check_limit("max_pointers", len(distances))
            memory = np.concatenate([from_bf16_bits(e.memory) for _, e in selection.spatial], axis=0)
            if distances:
                ptrs = np.concatenate([e.obj_ptr for _, e in selection.pointers])
            else:
                ptrs = np.zeros((0, c), dtype=np.float32)
            # A one-frame video has no temporal range; avoid 0/0 (as the torch model does).
            rel = np.asarray(distances, dtype=np.float32) / np.float32(max(max_ptrs - 1, 1))
            (conditioned,) = self.model.run(
                "memory_attention",
                vision_features=features["vision_features"],
                memory=memory[None],  # (1, F, mem_dim, h, w)
                memory_slots=np.asarray(slots, dtype=np.int64),
                obj_ptrs=ptrs[None],
                obj_ptr_pos=rel.astype(np.float32),
            )
            results[i] = conditioned
            state.conditioned.store(keys[i], selection, conditioned)
        return np.concatenate(results, axis=0)

    def _decode(
        self,
        features: FrameFeatures,
        conditioned: np.ndarray,
        points: Optional[PointPrompt],
        mask_logits: Optional[np.ndarray],
        multimask: bool,
        ptr_presence: Optional[np.ndarray] = None,
    ) -> TrackerPrediction:
        batch = conditioned.shape[0]
        side = 4 * conditioned.shape[-1]
        # SAM always needs a sparse token: without clicks one padding point; then the prompt
        # encoder's own padding point (label -1) after them.
        if points is None:
            coords = np.zeros((batch, 1, 2), dtype=np.float32)
            labels = -np.ones((batch, 1), dtype=np.int64)
        else:
            coords, labels = points.coords, points.labels
        coords = np.concatenate([coords, np.zeros((batch, 1, 2), dtype=np.float32)], axis=1)
        labels = np.concatenate([labels, -np.ones((batch, 1), dtype=np.int64)], axis=1)
        has_mask = mask_logits is not None
        if mask_logits is None:
            mask_logits = np.zeros((batch, 1, side, side), dtype=np.float32)

        def rep(x):
            return np.broadcast_to(x, (batch, *x.shape[1:]))

        out = DecoderOutput(
            *self.model.run(
                "decoder",
                image_embed=conditioned,
                high_res_0=rep(features["high_res_0"]),
                high_res_1=rep(features["high_res_1"]),
                point_coords=coords,
                point_labels=labels,
                mask_input=mask_logits.astype(np.float32),
                has_mask_input=np.array([float(has_mask)], dtype=np.float32),
                ptr_presence=np.ones((batch, 1), np.float32) if ptr_presence is None else ptr_presence,
            )
        )
        return tracker_prediction(out, multimask, self.settings)

    def _mask_as_prediction(self, features: FrameFeatures, mask: np.ndarray) -> TrackerPrediction:
        """A mask prompt used as the output; the pointer still comes from the decoder."""
        low_res, decoder_mask = self.model.run("mask_prompt", mask=mask)
        appearing = np.any(mask.reshape(mask.shape[0], -1) > 0, axis=1)[:, None].astype(np.float32)
        if self.settings["use_obj_ptrs_in_encoder"]:
            ptr = self._decode(
                features, features["vision_features"], None, decoder_mask, False, appearing
            ).obj_ptr
        else:
            ptr = np.zeros((mask.shape[0], int(self.settings["hidden_dim"])), dtype=np.float32)
        scores = (MASK_AS_OUTPUT_SCALE * appearing + MASK_AS_OUTPUT_BIAS).astype(np.float32)
        return TrackerPrediction(low_res, ptr, scores)

    def _encode_memory(
        self, features: FrameFeatures, mask_logits: np.ndarray, scores: np.ndarray, from_clicks: bool
    ) -> np.ndarray:
        """New memories (B, mem_dim, h, w) as bfloat16 bits."""
        batch = mask_logits.shape[0]
        vision = features["vision_features"]
        (memory,) = self.model.run(
            "memory_encoder",
            vision_features=np.broadcast_to(vision, (batch, *vision.shape[1:])),
            mask_logits=mask_logits,
            object_score_logits=scores,
            binarize=np.array([1.0 if from_clicks else 0.0], dtype=np.float32),
        )
        return to_bf16_bits(memory)

    def _store(self, prediction: TrackerPrediction, memory: Optional[np.ndarray]) -> List[TrackedOutput]:
        masks = prediction.mask_logits
        if self.fill_hole_area > 0:
            masks = fill_small_holes(masks, self.fill_hole_area)
        return [
            TrackedOutput(
                masks[k : k + 1],
                prediction.object_score_logits[k : k + 1],
                prediction.obj_ptr[k : k + 1],
                None if memory is None else memory[k : k + 1],
            )
            for k in range(masks.shape[0])
        ]

    # ------------------------------------------------------------------ outputs
    def _frame_masks_at_video_res(
        self, state: OnnxInferenceState, frame_idx: int, is_cond: bool
    ) -> np.ndarray:
        height, width = state.video_height, state.video_width
        masks = np.full((len(state.objects), 1, height, width), NO_OBJ_SCORE, dtype=np.float32)
        for i, track in enumerate(state.objects):
            out = track.output_on(frame_idx, is_cond)
            if out is not None:
                masks[i : i + 1] = self._to_video_res(state, out.mask_logits, constrain=False)
        return self._maybe_non_overlapping(masks)

    def _to_video_res(
        self, state: OnnxInferenceState, masks: np.ndarray, constrain: bool = True
    ) -> np.ndarray:
        out = resize.bilinear(masks, (state.video_height, state.video_width))
        return self._maybe_non_overlapping(out) if constrain else out

    def _maybe_non_overlapping(self, masks: np.ndarray) -> np.ndarray:
        if not self.settings["non_overlap_masks"] or masks.shape[0] == 1:
            return masks
        winner = np.argmax(masks, axis=0)[None]
        ids = np.arange(masks.shape[0])[:, None, None, None]
        return np.where(winner == ids, masks, np.minimum(masks, -10.0)).astype(np.float32)


def build_sam2_video_predictor_onnx(
    folder: str, providers=None, threads: int = 0, config=None, **kwargs
) -> SAM2VideoPredictorONNX:
    """Video predictor from an export folder (``python -m sam2.export onnx ... --out folder``).

    ``providers``: onnxruntime execution providers (CPU by default), e.g.
    ``["CUDAExecutionProvider", "CPUExecutionProvider"]``; ``config``: refuse a folder exported
    from another config (see :class:`sam2.onnx.runtime.OnnxModel`).
    """
    return SAM2VideoPredictorONNX(
        OnnxModel(folder, providers=providers, threads=threads, config=config), **kwargs
    )
