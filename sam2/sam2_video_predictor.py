"""Interactive video segmentation: prompt objects on any frame, track them through the video.

:class:`SAM2VideoPredictor` has the official API call for call (``init_state``,
``add_new_points_or_box``, ``add_new_mask``, ``propagate_in_video``, ...). Underneath it
reads frames lazily (:mod:`sam2.video.frames`), keeps image features and memory-conditioned
features in bounded caches (:mod:`sam2.video.feature_cache`) and keeps its state typed
(:mod:`sam2.video.state`).
"""

import logging
from typing import Iterator, List, Optional, Tuple

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    from sam2._torch_check import torch_missing

    raise torch_missing("sam2.sam2_video_predictor") from None

from sam2.modeling.sam2_base import NO_OBJ_SCORE, SAM2Base
from sam2.precision import compute_context
from sam2.utils.prompts import check_frame_mask
from sam2.video import bookkeeping, tracking
from sam2.video.compact import compact_tracked_output, offload_tracked_output, stored_mask_logits
from sam2.video.feature_cache import ConditionedFeatureCache, FrameFeatureCache
from sam2.video.frames import StreamingFrameSource, VideoFrames, open_frame_source
from sam2.video.host_copies import HostStore
from sam2.video.live import StreamWindow
from sam2.video.point_prompts import point_prompt
from sam2.video.state import InferenceState

logger = logging.getLogger(__name__)


class SAM2VideoPredictor(SAM2Base):
    """SAM 2 with the video predictor API. Build with ``build_sam2_video_predictor``.

    Model calls run in the precision the builder was given (``precision=``, see
    :mod:`sam2.precision`); returned masks are float32 logits whatever it is.
    """

    def __init__(
        self,
        fill_hole_area: int = 0,
        non_overlap_masks: bool = False,
        clear_non_cond_mem_around_input: bool = False,
        add_all_frames_to_correct_as_cond: bool = False,
        feature_cache_bytes: int = 2 * 1024**3,
        conditioned_cache_entries: int = 64,
        frame_cache_frames: int = 32,
        decoded_cache_bytes: int = 256 * 1024**2,
        feature_cache_on_host: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.fill_hole_area = fill_hole_area
        self.non_overlap_masks = non_overlap_masks
        self.clear_non_cond_mem_around_input = clear_non_cond_mem_around_input
        self.add_all_frames_to_correct_as_cond = add_all_frames_to_correct_as_cond
        self.feature_cache_bytes = feature_cache_bytes
        self.conditioned_cache_entries = conditioned_cache_entries
        self.frame_cache_frames = frame_cache_frames
        self.decoded_cache_bytes = decoded_cache_bytes  # per open video file (sources.VideoFileSource)
        # The caches' tensors in (pinned) host memory, so device memory does not grow with the
        # frames cached (sam2/video/host_copies.py). Off by default until measured on a GPU:
        # pinning a few MB per frame costs host time that may slow the first pass.
        self.feature_cache_on_host = feature_cache_on_host

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs) -> "SAM2VideoPredictor":
        from sam2.build_sam import build_sam2_video_predictor_hf

        return build_sam2_video_predictor_hf(model_id, **kwargs)

    # ------------------------------------------------------------------ sessions
    @torch.inference_mode()
    def init_state(
        self,
        video_path,
        offload_video_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        async_loading_frames: bool = False,
        bounded_memory: bool = False,
    ) -> InferenceState:
        """Open a video (file readable by PyAV, or a folder of numbered JPEGs).

        Frames are decoded lazily and kept in a bounded cache on the CPU whatever
        ``offload_video_to_cpu`` says (so ``async_loading_frames`` is not needed);
        ``offload_state_to_cpu`` keeps per-frame outputs on the CPU.

        ``bounded_memory=True`` is for very long videos: while tracking, frames that fall
        out of the memory window (``num_maskmem`` x temporal stride + 1 frames behind the
        tracked frame) lose their spatial memory and keep their mask as bits. What changes:
        masks of those frames read back as +-10 logits (their sign, so the binary masks,
        are kept); tracking from, or clicking on, such a frame later attends to fewer
        memories than the reference would (the nearby frames are re-tracked as usual).
        Prompted frames, object pointers and frames inside the window are kept in full.
        """
        source = open_frame_source(video_path, self.image_size, self.decoded_cache_bytes)
        frames = VideoFrames(source, self.frame_cache_frames)
        state = self._new_state(frames, offload_video_to_cpu, offload_state_to_cpu)
        state.bounded_memory = bounded_memory
        return state

    @torch.inference_mode()
    def init_stream(self, first_frame: np.ndarray, offload_state_to_cpu: bool = False,
                    keep_last_frames: int = 64) -> InferenceState:
        """Start a state for frames that arrive one at a time (a camera, a network stream).

        ``first_frame``: (H, W, 3) uint8 RGB; every later frame must have its size. Prompt
        objects on frame 0 (or on any frame still held), then push frames with
        :meth:`track_new_frame`. Objects prompted later join the tracking from the next frame.

        Memory stays flat however long the stream runs: only the newest ``keep_last_frames``
        frames are held (image features of the newest 4), so prompts go on those; tracked
        outputs are kept only as far back as tracking a held frame reads (:mod:`sam2.video.live`).
        Prompted frames are kept. A stream is treated as a video of unknown length, so its
        masks equal those of the same frames tracked forward from a long enough file
        (at least ``max_obj_ptrs_in_encoder`` frames).

        Example, frames from a camera or any file PyAV opens (``av.open("/dev/video0",
        format="v4l2")`` on Linux)::

            import av
            container = av.open("clip.mp4")
            frames = (f.to_ndarray(format="rgb24") for f in container.decode(video=0))
            state = predictor.init_stream(next(frames))
            predictor.add_new_points_or_box(state, 0, obj_id=1, points=[[320, 180]], labels=[1])
            for rgb in frames:
                frame_idx, obj_ids, logits = predictor.track_new_frame(state, rgb)
                masks = (logits > 0).cpu().numpy()   # (objects, 1, H, W) bool
        """
        # The source holds the recent frames already; the view needs no cache of its own.
        source = StreamingFrameSource(self.image_size, first_frame, keep_last_frames)
        state = self._new_state(VideoFrames(source, cache_frames=1), False, offload_state_to_cpu)
        state.open_ended = True
        state.stream_window = StreamWindow.of(self, source.keep_last)
        return state

    def _new_state(self, frames: VideoFrames, offload_video: bool, offload_state: bool) -> InferenceState:
        device = self.device
        host = HostStore(device) if self.feature_cache_on_host else None
        features = FrameFeatureCache(self.feature_cache_bytes, host)
        state = InferenceState(
            frames=frames,
            device=device,
            storage_device=torch.device("cpu") if offload_state else device,
            features=features,
            conditioned=ConditionedFeatureCache(self.conditioned_cache_entries, features, host),
            offload_video_to_cpu=offload_video,
            offload_state_to_cpu=offload_state,
        )
        with compute_context(self):
            tracking.frame_features(self, state, 0)  # warm up, like the reference
        return state

    @torch.inference_mode()
    def reset_state(self, inference_state: InferenceState) -> None:
        """Forget every object, prompt and result (frames and image features stay)."""
        inference_state.objects.clear()
        inference_state.conditioned.clear()

    def close_state(self, inference_state: InferenceState) -> None:
        """Free the frames and caches of a state that is no longer needed."""
        inference_state.close()

    # ------------------------------------------------------------------ prompts
    @torch.inference_mode()
    def add_new_points_or_box(
        self,
        inference_state: InferenceState,
        frame_idx: int,
        obj_id: int,
        points=None,
        labels=None,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
        box=None,
    ):
        """Add clicks (and/or a box) for one object on one frame; returns the frame's masks.

        points: (N, 2) x, y in video pixels (in [0, 1] with normalize_coords=False);
        labels: (N,) 1 positive, 0 negative; box: (4,) x0, y0, x1, y1. Returns
        (frame_idx, obj_ids, video_res_masks (num_objects, 1, H, W) logits).
        """
        state = inference_state
        frame_idx = bookkeeping.check_frame_idx(state, frame_idx)
        prompt = point_prompt(points, labels, box, clear_old_points, normalize_coords,
                              (state.video_width, state.video_height), self.image_size)
        obj_idx, track = state.track_for(obj_id)
        prompt = prompt.after(None if clear_old_points else track.point_inputs.get(frame_idx))
        track.point_inputs[frame_idx] = prompt
        track.mask_inputs.pop(frame_idx, None)
        point_inputs = {
            "point_coords": torch.tensor(prompt.coords).to(state.device),
            "point_labels": torch.tensor(prompt.labels, dtype=torch.int32).to(state.device),
        }
        return self._predict_prompted_frame(state, obj_idx, frame_idx, point_inputs=point_inputs)

    def add_new_points(self, *args, **kwargs):
        """Old name of :meth:`add_new_points_or_box`."""
        return self.add_new_points_or_box(*args, **kwargs)

    @torch.inference_mode()
    def add_new_mask(self, inference_state: InferenceState, frame_idx: int, obj_id: int, mask):
        """Give an object's mask (H, W) on a frame (any size; resized to the model's input)."""
        state = inference_state
        frame_idx = bookkeeping.check_frame_idx(state, frame_idx)
        mask_t = check_frame_mask(mask)
        obj_idx, track = state.track_for(obj_id)
        mask_in = mask_t.to(torch.bool).float()[None, None].to(state.device)
        if tuple(mask_in.shape[-2:]) != (self.image_size, self.image_size):
            mask_in = F.interpolate(
                mask_in, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True
            )
            mask_in = (mask_in >= 0.5).float()
        track.mask_inputs[frame_idx] = mask_in
        track.point_inputs.pop(frame_idx, None)
        return self._predict_prompted_frame(state, obj_idx, frame_idx, mask_inputs=mask_in)

    def _predict_prompted_frame(self, state, obj_idx, frame_idx, point_inputs=None, mask_inputs=None):
        """Run one object on a prompted frame and return every object's mask there."""
        track = state.objects[obj_idx]
        is_init_cond_frame, reverse, is_cond = bookkeeping.prompted_frame_kind(
            track, frame_idx, self.add_all_frames_to_correct_as_cond
        )
        prev_logits = None
        if point_inputs is not None:
            # A further click refines the previous result: its logits are the mask prompt.
            prev = track.output_on(frame_idx, is_cond)
            if prev is not None:
                prev_logits = torch.clamp(stored_mask_logits(prev, state.device), -32.0, 32.0)
        with compute_context(self):
            track.pending.of(is_cond)[frame_idx] = tracking.predict_prompted(
                self, state, track, frame_idx, is_init_cond_frame, reverse, point_inputs, mask_inputs, prev_logits
            )
        return frame_idx, state.obj_ids, self._frame_masks_at_video_res(state, frame_idx, is_cond)

    @torch.inference_mode()
    def clear_all_prompts_in_frame(self, inference_state: InferenceState, frame_idx: int, obj_id: int,
                                   need_output: bool = True):
        """Remove an object's prompts on a frame; its result there turns into a tracked one."""
        state = inference_state
        frame_idx = bookkeeping.check_frame_idx(state, frame_idx)
        _, track = state.track_for(obj_id)
        bookkeeping.clear_prompts(track, frame_idx)
        if not need_output:
            return None
        is_cond = bookkeeping.pending_is_cond(state, frame_idx)
        return frame_idx, state.obj_ids, self._frame_masks_at_video_res(state, frame_idx, is_cond)

    @torch.inference_mode()
    def remove_object(self, inference_state: InferenceState, obj_id: int, strict: bool = False,
                      need_output: bool = True):
        """Remove an object; returns (remaining obj_ids, [(frame_idx, masks)] of its prompted frames)."""
        return bookkeeping.remove_object(
            inference_state, obj_id, strict, need_output, self.reset_state, self._frame_masks_at_video_res
        )

    # ------------------------------------------------------------------ outputs
    def _frame_masks_at_video_res(self, state: InferenceState, frame_idx: int, is_cond: bool) -> torch.Tensor:
        """Every object's newest logits on a frame at video resolution; NO_OBJ_SCORE where none."""
        height, width = state.video_height, state.video_width
        masks = torch.full((len(state.objects), 1, height, width), NO_OBJ_SCORE, dtype=torch.float32,
                           device=state.device)
        for i, track in enumerate(state.objects):
            out = track.output_on(frame_idx, is_cond)
            if out is not None:
                masks[i : i + 1] = self._to_video_res(state, stored_mask_logits(out, state.device))
        return self._maybe_non_overlapping(masks)

    def _to_video_res(self, state: InferenceState, masks: torch.Tensor, reuse_output: bool = False) -> torch.Tensor:
        """(N, 1, h, w) logits -> (N, 1, H, W) float32 at video resolution (bilinear).

        ``reuse_output``: write into the state's reusable output tensor (frames yielded by
        propagation), which saves the CPU fresh pages every frame.
        """
        masks = masks.to(state.device, non_blocking=True)
        size = (state.video_height, state.video_width)
        if tuple(masks.shape[-2:]) == size:
            return masks
        if not reuse_output:
            return F.interpolate(masks.float(), size=size, mode="bilinear", align_corners=False)
        out = state.video_res_output.empty((masks.size(0), masks.size(1), *size), torch.float32, masks.device)
        # The op F.interpolate calls for a bilinear resize to a given size, with an output.
        return torch.ops.aten.upsample_bilinear2d.out(masks.float(), size, False, None, None, out=out)

    def _maybe_non_overlapping(self, masks: torch.Tensor) -> torch.Tensor:
        return self._apply_non_overlapping_constraints(masks) if self.non_overlap_masks else masks

    # ------------------------------------------------------------------ tracking
    @torch.inference_mode()
    def propagate_in_video_preflight(self, inference_state: InferenceState) -> None:
        """Encode memories of pending clicks and make them part of the tracking context."""
        state = inference_state
        by_frame = bookkeeping.unencoded_by_frame(state)
        with compute_context(self):
            tracking.encode_pending_memories(self, state, by_frame)
        bookkeeping.consolidate_pending(state, self._clear_span())

    @torch.inference_mode()
    def propagate_in_video(
        self,
        inference_state: InferenceState,
        start_frame_idx: Optional[int] = None,
        max_frame_num_to_track: Optional[int] = None,
        reverse: bool = False,
    ) -> Iterator[Tuple[int, List[int], torch.Tensor]]:
        """Track every object from ``start_frame_idx`` (default: the first prompted frame).

        Yields (frame_idx, obj_ids, video_res_masks (num_objects, 1, H, W) logits) per frame.
        """
        state = inference_state
        self.propagate_in_video_preflight(state)
        obj_ids = state.obj_ids
        order = bookkeeping.propagation_order(state, start_frame_idx, max_frame_num_to_track, reverse)

        # Frames to be decoded ahead on worker threads: the ones without cached features.
        state.frames.prefetch([i for i in order if i not in state.features])
        for frame_idx in order:
            yield frame_idx, obj_ids, self._track_frame(state, frame_idx, reverse)

    def _track_frame(self, state: InferenceState, frame_idx: int, reverse: bool) -> torch.Tensor:
        """Every object on one frame (prompted ones read back, the rest tracked in one batch).

        Returns the masks at video resolution (num_objects, 1, H, W).
        """
        per_object: List[Optional[torch.Tensor]] = [None] * len(state.objects)
        to_track = []
        for i, track in enumerate(state.objects):
            prompted = track.outputs.cond.get(frame_idx)
            if prompted is not None:
                per_object[i] = stored_mask_logits(prompted, state.device)
                if self.clear_non_cond_mem_around_input:
                    self._clear_non_cond_mem_around_input(state, frame_idx)
            else:
                to_track.append(i)
        if to_track:
            tracks = [state.objects[i] for i in to_track]
            # Per frame, not around the generator: autocast must not stay on in the caller's thread.
            with compute_context(self):
                outputs, masks = tracking.track_objects(self, state, tracks, frame_idx, reverse)
            for k, (track, out) in enumerate(zip(tracks, outputs)):
                track.outputs.tracked[frame_idx] = out
                per_object[to_track[k]] = masks[k : k + 1]
        # The frame that just left the window of memories tracking reads: compact it
        # (bounded memory) or move it off the accelerator, so device memory stays flat.
        window = self.num_maskmem * self.memory_temporal_stride_for_eval + 1
        leaving = frame_idx + (window + 1) * (1 if reverse else -1)
        for track in state.objects:
            track.frames_tracked[frame_idx] = reverse
            old = track.outputs.tracked.get(leaving)
            if old is None:
                continue
            if state.bounded_memory:
                compact_tracked_output(old)
            elif state.storage_device.type != "cpu":
                offload_tracked_output(old)
        all_masks = per_object[0] if len(per_object) == 1 else torch.cat(per_object, dim=0)
        return self._maybe_non_overlapping(self._to_video_res(state, all_masks, reuse_output=True))

    @torch.inference_mode()
    def track_new_frame(self, inference_state: InferenceState, frame: np.ndarray):
        """Streaming: append a frame (H, W, 3) uint8 RGB and track every object on it.

        Returns (frame_idx, obj_ids, video_res_masks (num_objects, 1, H, W) logits). Objects
        must have been prompted on an earlier frame; tracking runs forward only. With no
        object yet, the frame is held (it can be prompted) and no masks are computed: the
        masks come back as a (0, 1, H, W) tensor.
        """
        state = inference_state
        source = state.frames.source
        if not isinstance(source, StreamingFrameSource) or state.stream_window is None:
            raise TypeError("track_new_frame needs a state from init_stream()")
        frame_idx = source.append(frame)
        if not state.objects:
            state.stream_window.forget_before(state, frame_idx)
            return frame_idx, [], torch.zeros((0, 1, state.video_height, state.video_width))
        *_, last = self.propagate_in_video(state, start_frame_idx=frame_idx, max_frame_num_to_track=0)
        state.stream_window.forget_before(state, frame_idx)
        return last

    def _clear_span(self) -> Optional[int]:
        """Frames either side of a corrected one whose tracked memories are dropped, if configured."""
        if not self.clear_non_cond_mem_around_input:
            return None
        return self.memory_temporal_stride_for_eval * self.num_maskmem

    def _clear_non_cond_mem_around_input(self, state: InferenceState, frame_idx: int) -> None:
        bookkeeping.clear_tracked_around(state, frame_idx, self._clear_span())


def _own_copies(value):
    """Clone every tensor in a (nested) output: CUDA-graph replays overwrite their outputs."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: _own_copies(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_own_copies(v) for v in value)
    return value


def _compiled(fn, dynamic: bool):
    """``torch.compile`` with CUDA graphs (max-autotune) whose outputs are safe to keep."""
    compiled = torch.compile(fn, mode="max-autotune", fullgraph=True, dynamic=dynamic)

    def run(*args, **kwargs):
        return _own_copies(compiled(*args, **kwargs))

    return run


class SAM2VideoPredictorVOS(SAM2VideoPredictor):
    """Video predictor with the per-frame work compiled by ``torch.compile`` (``vos_optimized=True``).

    The image encoder, memory attention, memory encoder, prompt encoder and mask decoder run
    as compiled graphs (CUDA graphs on a GPU). Shapes are fixed per frame except the number
    of memory tokens (first frames of a video) and the object batch, so graphs are captured
    for the few sizes a session meets during warm-up. Outputs are copied out of the graphs'
    buffers, because stored results outlive the next replay.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for module, dynamic in ((self.memory_encoder, False), (self.memory_attention, True),
                                (self.sam_prompt_encoder, False), (self.sam_mask_decoder, False)):
            module.forward = _compiled(module.forward, dynamic)

    def forward_image(self, img_batch: torch.Tensor) -> dict:
        out = super().forward_image(img_batch)
        # Compiled graphs may reuse their output buffers: keep our own copies.
        out["backbone_fpn"] = [f.clone() for f in out["backbone_fpn"]]
        out["vision_pos_enc"] = [p.clone() for p in out["vision_pos_enc"]]
        return out
