"""SAM2VideoPredictor: golden replay, every API call, caches, sources and bad input."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from shared_paths import GOLDEN, REPO_ROOT, require

from sam2.video.frames import VideoLoadError


@pytest.fixture()
def predictor(micro_video_predictor):
    return micro_video_predictor


@pytest.fixture(scope="module")
def frames_dir(golden_dir):
    return str(golden_dir / "micro" / "frames")


def test_golden_micro_replay_all_steps():
    """Image and video steps of the micro fixture: 0 failed."""
    replay = require(GOLDEN / "replay.py")
    out = subprocess.run([sys.executable, str(replay), str(GOLDEN / "micro")], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1].endswith(" 0 failed")


def test_api_walkthrough(predictor, frames_dir):
    state = predictor.init_state(frames_dir)
    assert (state["num_frames"], state["video_height"], state["video_width"]) == (10, 108, 192)
    f, ids, masks = predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
    assert (f, ids, tuple(masks.shape)) == (0, [1], (1, 1, 108, 192))
    f, ids, masks = predictor.add_new_points(state, 0, 2, box=[125, 45, 190, 72], points=[[150, 60]], labels=[1])
    assert ids == [1, 2] and masks.shape[0] == 2
    mask = np.zeros((108, 192), dtype=bool)
    mask[20:60, 30:90] = True
    f, ids, masks = predictor.add_new_mask(state, 3, 5, mask)
    assert ids == [1, 2, 5]
    assert (masks[:2] == -1024.0).all(), "objects without output on a frame read NO_OBJ_SCORE"
    assert ((masks[2, 0] > 0).numpy() == mask).mean() > 0.95, "a mask prompt is returned as given"
    seen = [fi for fi, _, m in predictor.propagate_in_video(state)]
    assert seen == list(range(10))
    seen = [fi for fi, _, _ in predictor.propagate_in_video(state, start_frame_idx=6, reverse=True)]
    assert seen == [6, 5, 4, 3, 2, 1, 0]
    seen = [fi for fi, _, _ in predictor.propagate_in_video(state, start_frame_idx=2, max_frame_num_to_track=3)]
    assert seen == [2, 3, 4, 5]
    # refine on a tracked frame, add an object after tracking, remove, clear
    predictor.add_new_points_or_box(state, 4, 1, points=[[80, 95]], labels=[0], clear_old_points=False)
    predictor.add_new_points_or_box(state, 6, 7, points=[[20, 20]], labels=[1])
    ids, updated = predictor.remove_object(state, 2)
    assert ids == [1, 5, 7] and [fi for fi, _ in updated] == [0] and updated[0][1].shape == (3, 1, 108, 192)
    f, ids, masks = predictor.clear_all_prompts_in_frame(state, 4, 1)
    assert f == 4 and masks.shape == (3, 1, 108, 192)
    assert len(list(predictor.propagate_in_video(state))) == 10
    assert predictor.remove_object(state, 99) == ([1, 5, 7], [])
    with pytest.raises(KeyError, match="no such object"):
        predictor.remove_object(state, 99, strict=True)
    predictor.reset_state(state)
    assert state["obj_ids"] == []
    with pytest.raises(RuntimeError, match="add points, a box or a mask first"):
        list(predictor.propagate_in_video(state))


def test_click_on_tracked_frame_reuses_conditioned_features(predictor, frames_dir):
    """Same numbers with and without the cache; the cache serves the click."""
    state = predictor.init_state(frames_dir)
    predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
    list(predictor.propagate_in_video(state))
    hits = state.conditioned.hits
    _, _, cached = predictor.add_new_points_or_box(state, 5, 1, points=[[60, 40]], labels=[1])
    assert state.conditioned.hits == hits + 1
    state.conditioned.clear()
    state.objects[0].pending.tracked.clear()
    _, _, fresh = predictor.add_new_points_or_box(state, 5, 1, points=[[60, 40]], labels=[1])
    assert torch.equal(cached, fresh)


def test_retrack_uses_cached_image_features(predictor, frames_dir):
    state = predictor.init_state(frames_dir)
    predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
    first = [m.clone() for _, _, m in predictor.propagate_in_video(state)]
    misses = state.features.misses
    second = [m for _, _, m in predictor.propagate_in_video(state)]
    assert state.features.misses == misses, "the second pass must not re-run the image encoder"
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_caches_kept_on_the_host_give_the_same_numbers(predictor, frames_dir):
    """feature_cache_on_host: cached tensors live as host copies and the whole session (track,
    re-track, click on a tracked frame) computes exactly the same."""
    from sam2.video.host_copies import HostCopy

    def session():
        state = predictor.init_state(frames_dir)
        predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
        predictor.add_new_points_or_box(state, 0, 2, points=[[150, 60]], labels=[1])
        out = [m.clone() for _, _, m in predictor.propagate_in_video(state)]
        out.append(predictor.add_new_points_or_box(state, 5, 1, points=[[60, 40]], labels=[1])[2])
        out += [m.clone() for _, _, m in predictor.propagate_in_video(state, start_frame_idx=5)]
        return state, out

    _, on_device = session()
    predictor.feature_cache_on_host = True
    try:
        state, on_host = session()
    finally:
        predictor.feature_cache_on_host = False
    assert all(torch.equal(a, b) for a, b in zip(on_device, on_host)) and len(on_device) == len(on_host)
    assert state.features.hits > 0 and state.conditioned.hits > 0
    entry = state.features._entries[5]
    assert all(isinstance(t, HostCopy) for t in entry["backbone_fpn"])
    assert isinstance(entry["first_self_attention"], HostCopy)
    assert all(isinstance(stored, HostCopy) for _, stored in state.conditioned._entries.values())
    assert state.features.bytes == sum(state.features._sizes.values()) > 0


def test_tracking_under_bfloat16_autocast(predictor, frames_dir):
    """On CUDA the predictor runs under bf16 autocast; the CPU's bf16 autocast walks the same
    mixed-dtype paths (clicks, a mask, batched objects, hole filling, a click on a tracked frame,
    reverse re-tracking), so a dtype mismatch shows here, not first on a GPU."""
    mask = np.zeros((108, 192), dtype=bool)
    mask[20:60, 30:90] = True

    def session(autocast):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            state = predictor.init_state(frames_dir)
            predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
            predictor.add_new_points_or_box(state, 0, 2, points=[[150, 60]], labels=[1])
            predictor.add_new_mask(state, 3, 3, mask)
            out = [m.float().clone() for _, _, m in predictor.propagate_in_video(state)]
            out.append(predictor.add_new_points_or_box(state, 5, 1, points=[[60, 40]], labels=[1])[2].float())
            out += [m.float().clone() for _, _, m in predictor.propagate_in_video(state, start_frame_idx=5, reverse=True)]
            return out

    fp32, bf16 = session(False), session(True)
    assert len(fp32) == len(bf16) == 17
    agreement = min(((a > 0) == (b > 0)).float().mean().item() for a, b in zip(fp32, bf16))
    assert agreement > 0.99, f"bf16 masks agree with fp32 on only {agreement:.2%} of pixels"


def test_video_file_matches_its_frames(predictor, data_dir, tmp_path):
    """An MP4 and the JPEG folder of the same frames give the same frame count and size."""
    clip = data_dir / "uploads" / "vp9_640x360.webm"
    state = predictor.init_state(str(clip))
    assert (state["num_frames"], state["video_height"], state["video_width"]) == (50, 360, 640)
    _, _, masks = predictor.add_new_points_or_box(state, 10, 1, points=[[320, 180]], labels=[1])
    assert masks.shape == (1, 1, 360, 640)
    frames = [fi for fi, _, _ in predictor.propagate_in_video(state, start_frame_idx=10, max_frame_num_to_track=4)]
    assert frames == [10, 11, 12, 13, 14]
    # random access: a frame read after a seek equals the frame read sequentially
    seq = state.frames.source.read(30)
    state.frames.source.read(3)
    assert np.array_equal(seq, state.frames.source.read(30))


def test_rotation_is_applied(predictor, data_dir):
    state = predictor.init_state(str(data_dir / "uploads" / "rotated_90_phone_portrait_stored_640x360.mp4"))
    assert (state["video_height"], state["video_width"]) == (640, 360)


def test_streaming_frames(predictor, frames_dir):
    paths = sorted((p for p in __import__("pathlib").Path(frames_dir).iterdir()), key=lambda p: int(p.stem))
    frames = [np.array(Image.open(p).convert("RGB")) for p in paths]
    state = predictor.init_stream(frames[0])
    predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
    for i, frame in enumerate(frames[1:4], start=1):
        f, ids, masks = predictor.track_new_frame(state, frame)
        assert f == i and ids == [1] and masks.shape == (1, 1, 108, 192)
    with pytest.raises(VideoLoadError, match="like the first one"):
        predictor.track_new_frame(state, frames[0][:50])
    short = predictor.init_stream(frames[0], keep_last_frames=2)
    for frame in frames[1:4]:
        short.frames.source.append(frame)
    assert short["num_frames"] == 4
    with pytest.raises(VideoLoadError, match="no longer held"):
        short.frames.source.read(1)


@pytest.fixture()
def state(predictor, frames_dir):
    s = predictor.init_state(frames_dir)
    predictor.add_new_points_or_box(s, 0, 1, points=[[72, 62]], labels=[1])
    return s


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"frame_idx": 10, "obj_id": 1, "points": [[1, 1]], "labels": [1]}, IndexError, r"out of range.*10 frames"),
        ({"frame_idx": -1, "obj_id": 1, "points": [[1, 1]], "labels": [1]}, IndexError, "out of range"),
        ({"frame_idx": 0, "obj_id": 1, "points": [[-5, 1]], "labels": [1]}, ValueError, "inside the frame"),
        ({"frame_idx": 0, "obj_id": 1, "points": [[500, 1]], "labels": [1]}, ValueError, "inside the frame"),
        ({"frame_idx": 0, "obj_id": 1, "points": [[np.nan, 1]], "labels": [1]}, ValueError, "NaN"),
        ({"frame_idx": 0, "obj_id": 1, "points": [[1, 1]], "labels": [5]}, ValueError, r"contain \[5\]"),
        ({"frame_idx": 0, "obj_id": 1, "points": [[1, 1]], "labels": [1, 0]}, ValueError, "labels must have shape"),
        ({"frame_idx": 0, "obj_id": 1, "points": [[1, 1]]}, ValueError, "together"),
        ({"frame_idx": 0, "obj_id": 1}, ValueError, "points .* or a box"),
        ({"frame_idx": 0, "obj_id": 1, "box": [1, 1, 5, 5], "clear_old_points": False}, ValueError,
         "clear_old_points=True"),
        ({"frame_idx": 0, "obj_id": 1, "box": [9, 9, 5, 5]}, ValueError, "x1 >= x0"),
        ({"frame_idx": 0, "obj_id": "one", "points": [[1, 1]], "labels": [1]}, TypeError, "obj_id must be an integer"),
        ({"frame_idx": 1.5, "obj_id": 1, "points": [[1, 1]], "labels": [1]}, TypeError, "frame_idx must be an integer"),
    ],
)
def test_bad_clicks(predictor, state, kwargs, error, message):
    with pytest.raises(error, match=message):
        predictor.add_new_points_or_box(state, **kwargs)
    assert state["obj_ids"] == [1], "a refused prompt must not create an object"


def test_bad_masks_and_propagation_args(predictor, state):
    with pytest.raises(ValueError, match="2-D"):
        predictor.add_new_mask(state, 0, 2, np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        predictor.add_new_mask(state, 0, 2, np.full((10, 10), np.nan))
    with pytest.raises(IndexError, match="out of range"):
        list(predictor.propagate_in_video(state, start_frame_idx=42))
    with pytest.raises(ValueError, match="max_frame_num_to_track"):
        list(predictor.propagate_in_video(state, max_frame_num_to_track=-2))


def test_object_without_prompts_is_reported(predictor, state):
    predictor.clear_all_prompts_in_frame(state, 0, 3)  # creates object 3 with no prompt
    with pytest.raises(RuntimeError, match="object 3 has no prompts"):
        list(predictor.propagate_in_video(state))


def test_bad_videos(predictor, data_dir, tmp_path):
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    cases = [
        (str(empty_dir), "no JPEG frames"),
        (str(tmp_path / "missing.mp4"), "does not exist"),
        (str(data_dir / "uploads" / "empty_0_bytes.mp4"), "empty"),
        (str(data_dir / "uploads" / "text_file_named_clip" / "clip.mp4"), "cannot open"),
        (str(data_dir / "uploads" / "audio_only_no_video_stream.mp4"), "no video stream"),
        (str(data_dir / "uploads" / "truncated_first_half_moov_last.mp4"), "cannot open"),
        (str(data_dir / "frames" / "mixed_sizes"), "different sizes"),
    ]
    for path, message in cases:
        with pytest.raises(VideoLoadError, match=message):
            predictor.init_state(path)
    unreadable = tmp_path / "broken"
    unreadable.mkdir()
    (unreadable / "00000.jpg").write_text("not a jpeg")
    with pytest.raises(VideoLoadError, match="not a readable image"):
        predictor.init_state(str(unreadable))
    with pytest.raises(TypeError, match="path"):
        predictor.init_state(12345)


def test_numeric_frame_order(predictor, golden_dir, tmp_path):
    """Frames are ordered by the number in their names, not lexicographically."""
    folder = tmp_path / "frames"
    shutil.copytree(golden_dir / "micro" / "frames", folder)
    state = predictor.init_state(str(folder))
    names = [p.split("/")[-1] for p in state.frames.source.paths]
    assert names[:4] == ["0.jpg", "3.jpg", "6.jpg", "9.jpg"] or [int(n.split(".")[0]) for n in names] == sorted(
        int(n.split(".")[0]) for n in names)


def test_bounded_memory_keeps_masks_and_drops_old_memories(predictor, data_dir):
    """Forward tracking never reads the dropped memories: same binary masks, far less stored."""
    clip = str(data_dir / "uploads" / "vp9_640x360.webm")
    runs = {}
    for bounded in (False, True):
        state = predictor.init_state(clip, bounded_memory=bounded)
        predictor.add_new_points_or_box(state, 0, 1, points=[[320, 180]], labels=[1])
        runs[bounded] = (state, [(m > 0).clone() for _, _, m in
                                 predictor.propagate_in_video(state, max_frame_num_to_track=12)])
    for full, bounded in zip(runs[False][1], runs[True][1]):
        assert torch.equal(full, bounded)
    outputs = runs[True][0].objects[0].outputs.tracked
    kept = [t for t, out in outputs.items() if out.memory is not None]
    assert kept == list(range(4, 13)), kept
    # a compacted frame still answers clicks and reports its mask
    state = runs[True][0]
    _, _, masks = predictor.clear_all_prompts_in_frame(state, 2, 1)
    assert torch.equal(masks > 0, runs[False][1][2])
    predictor.add_new_points_or_box(state, 2, 1, points=[[300, 170]], labels=[1], clear_old_points=False)
    assert len(list(predictor.propagate_in_video(state, start_frame_idx=2, max_frame_num_to_track=3))) == 4


def test_feature_cache_keeps_its_byte_budget_least_recently_used_first():
    from sam2.video.feature_cache import FrameFeatureCache

    def features():
        return {"backbone_fpn": [torch.zeros(100)], "vision_pos_enc": [torch.zeros(4)]}  # 400 bytes

    cache = FrameFeatureCache(max_bytes=1000)
    for frame in range(3):
        cache.put(frame, features())
    assert list(cache._entries) == [1, 2] and cache.bytes == 800  # the oldest frame went
    assert cache.get(1) is not None  # frame 1 is now the most recently used
    cache.derived(1, "extra", lambda: torch.zeros(100))  # +400 bytes counted with frame 1
    assert list(cache._entries) == [1] and cache.bytes == 800
    cache.put(3, {"backbone_fpn": [torch.zeros(1000)], "vision_pos_enc": [torch.zeros(4)]})
    assert list(cache._entries) == [3], "the newest frame stays even over the budget"
