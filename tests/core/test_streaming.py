"""Live streams (init_stream / track_new_frame): parity with a folder, bounded memory, errors."""

import importlib.util
import shutil

import numpy as np
import pytest
from PIL import Image
from shared_paths import GOLDEN, MICRO_CONFIG, REPO_ROOT, require

from sam2.video.frames import VideoLoadError


@pytest.fixture(scope="module")
def golden_predictor():
    """Micro video predictor, fp32 on CPU, with the golden fixtures' deterministic weights."""
    from sam2.build_sam import build_sam2_video_predictor

    spec = importlib.util.spec_from_file_location("golden_weights", require(GOLDEN / "weights.py"))
    weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(weights)
    predictor = build_sam2_video_predictor(MICRO_CONFIG, device="cpu")
    predictor.load_state_dict(weights.make_state_dict(predictor.state_dict()))
    return predictor


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """The golden micro frames played twice: 20 frames, longer than the 16 object pointers."""
    src = sorted(require(GOLDEN / "micro" / "frames").iterdir(), key=lambda p: int(p.stem))
    folder = tmp_path_factory.mktemp("clip20")
    for i in range(20):
        shutil.copy(src[i % len(src)], folder / f"{i:05d}.jpg")
    frames = [np.array(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir())]
    return folder, frames


def _prompt(predictor, state, frame_idx):
    """The test's prompts: object 1 on frame 0, object 2 joins on 6, object 1 refined on 13."""
    if frame_idx == 0:
        return predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
    if frame_idx == 6:
        return predictor.add_new_points_or_box(state, 6, 2, box=[125, 45, 190, 72])
    if frame_idx == 13:
        return predictor.add_new_points_or_box(state, 13, 1, points=[[80, 60], [20, 20]], labels=[1, 0])
    return None


def _assert_close(got, expected, what):
    assert got[0] == expected[0], f"{what}: objects {got[0]} != {expected[0]}"
    diff = (got[1] - expected[1]).abs().max().item()
    assert diff <= 1e-5, f"{what}: logits differ by {diff}"


def test_stream_gives_the_masks_of_the_same_frames_tracked_from_a_folder(golden_predictor, long_clip):
    """Prompts on frames as they arrive: each frame is tracked when it comes, then prompted."""
    folder, frames = long_clip
    predictor = golden_predictor
    prompted = (0, 6, 13)
    # Folder: one propagate_in_video up to and including the next prompted frame, the
    # prompt there, then on from the frame after it (as the stream goes on).
    state = predictor.init_state(str(folder))
    expected, expected_prompts = {}, {}
    _prompt(predictor, state, 0)
    for start, stop in zip(prompted, prompted[1:] + (19,)):
        first = start + 1 if start else 0
        for f, ids, masks in predictor.propagate_in_video(state, first, max_frame_num_to_track=stop - first):
            expected[f] = (list(ids), masks.clone())
        if stop in prompted:
            _, ids, masks = _prompt(predictor, state, stop)
            expected_prompts[stop] = (list(ids), masks.clone())
    # Stream, keep_last_frames=2: outputs older than 2 + reach (16) frames are forgotten
    # while the clip runs, which must not change a thing.
    live = predictor.init_stream(frames[0], keep_last_frames=2)
    _prompt(predictor, live, 0)
    for i, rgb in enumerate(frames[1:], start=1):
        f, ids, masks = predictor.track_new_frame(live, rgb)
        assert f == i
        _assert_close((list(ids), masks), expected[f], f"frame {f}")
        if i in prompted:
            _, ids, masks = _prompt(predictor, live, i)
            _assert_close((list(ids), masks), expected_prompts[i], f"prompt on frame {i}")
    assert live.stream_window.held_outputs(live) < 2 * 19, "old tracked outputs were forgotten"


def test_a_long_stream_holds_only_its_window(golden_predictor, long_clip):
    _, frames = long_clip
    predictor = golden_predictor
    live = predictor.init_stream(frames[0], keep_last_frames=6)
    window = live.stream_window
    # micro: 7 spatial memories, 16 object pointers
    assert (window.keep_frames, window.reach, window.keep_features) == (6, 16, 4)
    f, ids, masks = predictor.track_new_frame(live, frames[1])
    assert (f, ids, tuple(masks.shape)) == (1, [], (0, 1, 108, 192)), "no object yet: frames are only held"
    predictor.add_new_points_or_box(live, 1, 1, points=[[72, 62]], labels=[1])
    predictor.add_new_points_or_box(live, 1, 2, points=[[150, 60]], labels=[1])
    for i in range(2, 60):
        f, ids, masks = predictor.track_new_frame(live, frames[i % len(frames)])
        assert f == i and ids == [1, 2] and masks.shape == (2, 1, 108, 192)
        for track in live.objects:
            assert len(track.outputs.tracked) <= window.keep_frames + window.reach
            assert len(track.frames_tracked) <= window.keep_frames + window.reach + 1
        assert len(live.features) <= window.keep_features
    assert min(live.objects[0].outputs.tracked) == 59 - 5 - 16
    assert list(live.objects[0].outputs.cond) == [1], "prompted frames are kept"
    # Prompts go on any held frame (features of frame 54 are encoded again); an older one says
    # why it cannot.
    _, ids, masks = predictor.add_new_points_or_box(live, 54, 3, points=[[20, 20]], labels=[1])
    assert ids == [1, 2, 3] and masks.shape == (3, 1, 108, 192)
    with pytest.raises(VideoLoadError, match="no longer held: a stream keeps its last 6 frames"):
        predictor.add_new_points_or_box(live, 50, 3, points=[[20, 20]], labels=[1])
    f, ids, _ = predictor.track_new_frame(live, frames[0])
    assert (f, ids) == (60, [1, 2, 3]), "an object prompted on a held frame joins the next frame"


def test_stream_errors(golden_predictor, long_clip):
    folder, frames = long_clip
    predictor = golden_predictor
    with pytest.raises(TypeError, match="needs a state from init_stream"):
        predictor.track_new_frame(predictor.init_state(str(folder)), frames[0])
    live = predictor.init_stream(frames[0])
    with pytest.raises(VideoLoadError, match=r"must be \(108, 192, 3\) uint8 like the first one"):
        predictor.track_new_frame(live, frames[0][:50])
    with pytest.raises(VideoLoadError, match="uint8"):
        predictor.track_new_frame(live, frames[0].astype(np.float32))
    with pytest.raises(VideoLoadError, match=r"\(H, W, 3\) uint8 RGB"):
        predictor.init_stream(np.zeros((4, 4), np.uint8))
    assert live["num_frames"] == 1, "a refused frame is not counted"
    assert live.frames.uint8(0).shape == (256, 256, 3)


def test_newest_frame_slot_keeps_one_frame_the_newest():
    import threading

    from sam2.video.live import NewestFrameSlot

    slot = NewestFrameSlot()
    assert slot.take(timeout=0.01) is None
    assert slot.put(1) is None
    assert slot.put(2) == 1, "the waiting frame is handed back as dropped"
    assert slot.take() == 2 and slot.take(timeout=0.01) is None
    got = []
    taker = threading.Thread(target=lambda: got.append(slot.take(timeout=5)))
    taker.start()
    slot.put(3)
    taker.join(5)
    assert got == [3], "a blocked taker wakes up with the frame"
    slot.put(4)
    assert slot.close() == 4 and slot.take() is None
    with pytest.raises(RuntimeError, match="closed"):
        slot.put(5)


def test_the_documented_example_runs(micro_video_predictor, long_clip, tmp_path):
    """docs/library.md's stream example, run as written on a short clip written with PyAV."""
    import re

    import av

    clip = tmp_path / "clip.mp4"
    _, frames = long_clip
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"  # the example clicks (320, 180)
        for rgb in frames[:5]:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(640, 360)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    doc = (REPO_ROOT / "docs" / "library.md").read_text()
    section = doc[doc.index("### Frames that arrive one at a time") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1).replace('"clip.mp4"', repr(str(clip)))
    scope = {"predictor": micro_video_predictor}
    exec(compile(code, "docs/library.md", "exec"), scope)
    assert scope["frame_idx"] == 4 and scope["masks"].shape == (1, 1, 360, 640)
