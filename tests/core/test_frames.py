"""Frames for the predictor: normalisation on the device, prefetching workers, video random access."""

import threading
import time

import av
import numpy as np
import pytest
import torch
from PIL import Image

from sam2.video.frames import VideoFrames
from sam2.video.normalize import IMG_MEAN, IMG_STD, FrameNormalizer, normalization_table
from sam2.video.sources import JpegFolderSource, VideoFileSource, VideoLoadError


def host_normalisation(frame_hwc: np.ndarray) -> torch.Tensor:
    """The normalisation the predictor did on the host before: /255 in float64, then float32."""
    pixels = torch.from_numpy(frame_hwc).permute(2, 0, 1).to(torch.float64) / 255.0
    mean = torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(IMG_STD, dtype=torch.float32)[:, None, None]
    return (pixels.to(torch.float32) - mean) / std


def numpy_normalisation(frame_hwc: np.ndarray) -> torch.Tensor:
    """The official loader's arithmetic: np.array(img) / 255.0 in float64 -> float32 tensor."""
    pixels = torch.from_numpy(frame_hwc / 255.0).permute(2, 0, 1).float()
    mean = torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(IMG_STD, dtype=torch.float32)[:, None, None]
    return (pixels - mean) / std


def test_table_equals_host_arithmetic_for_every_value_and_channel():
    # every value in every channel, at every position of a vector loop (odd length, shifted)
    values = np.concatenate([np.arange(256), np.arange(255, -1, -1), np.arange(3)]).astype(np.uint8)
    frame = np.stack([np.roll(values, c * 7) for c in range(3)], axis=-1)[None]  # (1, 515, 3)
    expected = host_normalisation(frame)
    assert torch.equal(FrameNormalizer()(torch.from_numpy(frame))[0], expected)
    assert torch.equal(numpy_normalisation(frame), expected)
    table = normalization_table()
    for c in range(3):
        assert torch.equal(table[c], host_normalisation(np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, 2))[c, 0])


def test_full_frame_equals_host_arithmetic(data_dir):
    source = JpegFolderSource(str(data_dir / "frames" / "pedestrians_10"), 512)
    frames = VideoFrames(source, cache_frames=4)
    got = frames.model_input(3, "cpu")
    assert got.shape == (1, 3, 512, 512) and got.dtype == torch.float32
    assert torch.equal(got[0], host_normalisation(source.read(3)))
    assert torch.equal(frames[3], got[0])
    frames.close()


class ScriptedSource:
    """A source whose reads can be held back (to see what runs meanwhile) or fail."""

    def __init__(self, num_frames=40, size=8, hold=(), fail=()):
        self.num_frames, self.height, self.width = num_frames, size, size
        self.size = size
        self.hold = {i: threading.Event() for i in hold}
        self.fail = set(fail)
        self.reads = []
        self.lock = threading.Lock()

    def read(self, index):
        with self.lock:
            self.reads.append(index)
        if index in self.hold:
            assert self.hold[index].wait(10)
        if index in self.fail:
            raise VideoLoadError(f"frame {index} is broken")
        return np.full((self.size, self.size, 3), index, dtype=np.uint8)

    def close(self):
        pass


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_prefetched_frames_are_ready_and_the_cache_stays_bounded():
    source = ScriptedSource()
    frames = VideoFrames(source, cache_frames=8, workers=2)
    assert frames.prefetch_depth == 4
    order = list(range(10, 40))
    frames.prefetch(order)
    for index in order:
        wait_until(lambda i=index: i in frames._cache)  # the workers get there first
        assert frames.uint8(index)[0, 0, 0] == index
        assert len(frames._cache) <= 8
    assert frames.waits == 0 and frames.wait_seconds == 0.0
    assert sorted(source.reads) == order  # each frame read once, nothing outside the order
    frames.close()


def test_no_lock_is_held_while_a_frame_decodes():
    source = ScriptedSource(hold=[5])
    frames = VideoFrames(source, cache_frames=8, workers=1)
    frames.prefetch([5, 6, 7])
    wait_until(lambda: 5 in source.reads)  # the worker is stuck inside read(5)
    assert frames.uint8(20)[0, 0, 0] == 20  # another frame meanwhile: not blocked
    done = []
    waiter = threading.Thread(target=lambda: done.append(frames.uint8(5)[0, 0, 0]))
    waiter.start()
    time.sleep(0.05)
    assert not done  # the caller waits for the worker's read instead of reading again
    source.hold[5].set()
    waiter.join(10)
    assert done == [5] and source.reads.count(5) == 1
    assert frames.waits == 2 and frames.wait_seconds > 0.04
    frames.close()


def test_a_failing_frame_raises_for_the_caller_and_is_not_retried_in_the_background():
    source = ScriptedSource(fail=[3])
    frames = VideoFrames(source, cache_frames=8, workers=2)
    frames.prefetch(range(0, 10))  # the window: 4 frames ahead of the newest asked for
    wait_until(lambda: all(i in frames._cache for i in (0, 1, 2)) and 3 in frames._failed)
    with pytest.raises(VideoLoadError, match="frame 3 is broken"):
        frames.uint8(3)
    wait_until(lambda: all(i in frames._cache for i in (4, 5, 6, 7)))
    assert source.reads.count(3) == 2  # once by a worker, once by the caller
    with pytest.raises(IndexError, match="out of range"):
        frames.uint8(40)
    frames.close()


# ----------------------------------------------------------------------------- video files
GOP, FRAMES = 10, 35


@pytest.fixture(scope="module")
def h264_clip(tmp_path_factory):
    """35 frames of H.264 with B-frames and a key frame every 10 frames; every frame differs."""
    path = tmp_path_factory.mktemp("clip") / "gop10.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0", "bf": "2"}
        yy, xx = np.mgrid[0:64, 0:96]
        for i in range(FRAMES):
            rgb = np.stack([(xx * 2 + i * 7) % 256, (yy * 3 + i * 11) % 256, ((xx + yy) * i) % 256], -1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


def sequential_frames(path, size):
    with av.open(path) as c:
        return [np.array(Image.fromarray(f.to_ndarray(format="rgb24")).resize((size, size)))
                for f in c.decode(video=0)]


def test_key_frame_index_and_one_gop_decode_per_random_access(h264_clip):
    source = VideoFileSource(h264_clip, 32)
    assert source.num_frames == FRAMES and source._key_frames == [0, 10, 20, 30]
    assert source.key_frame_before(17) == 10 and source.key_frame_before(30) == 30
    expected = sequential_frames(h264_clip, 32)

    decoded, seeks = source.decoded_frames, source.seeks
    assert np.array_equal(source.read(17), expected[17])
    assert source.seeks == seeks + 1 and source.decoded_frames - decoded <= 8 + 2  # 10..17 (+ reordering)
    decoded = source.decoded_frames
    for index in (12, 15, 10, 17):  # clicks back inside the GOP: no decoding at all
        assert np.array_equal(source.read(index), expected[index])
    assert source.decoded_frames == decoded and source.seeks == seeks + 1
    assert np.array_equal(source.read(19), expected[19])  # ahead in the GOP: decode on, no seek
    assert np.array_equal(source.read(20), expected[20])  # and on into the next GOP
    assert source.seeks == seeks + 1
    source.close()


def test_neighbouring_frames_asked_out_of_order_across_a_gop_boundary_cost_no_seek(h264_clip):
    # Prefetch workers ask for 9 and 11 at once; whichever wins the decoder, no seek follows.
    source = VideoFileSource(h264_clip, 32)
    expected = sequential_frames(h264_clip, 32)
    assert np.array_equal(source.read(8), expected[8])
    seeks = source.seeks
    for index in (11, 9, 10, 13, 12):
        assert np.array_equal(source.read(index), expected[index]), index
    assert source.seeks == seeks
    source.close()


def test_random_access_equals_sequential_decoding_without_a_decoded_cache(h264_clip):
    source = VideoFileSource(h264_clip, 32, decoded_cache_bytes=0)
    expected = sequential_frames(h264_clip, 32)
    order = np.random.default_rng(0).permutation(FRAMES).tolist() + list(range(FRAMES))
    for index in order:
        assert np.array_equal(source.read(index), expected[index]), index
    source.close()


def test_video_frames_on_worker_threads_match_sequential_decoding(h264_clip):
    frames = VideoFrames(VideoFileSource(h264_clip, 32), cache_frames=8, workers=3)
    expected = sequential_frames(h264_clip, 32)
    frames.prefetch(range(5, FRAMES))
    for index in range(5, FRAMES):
        assert np.array_equal(frames.uint8(index), expected[index]), index
    assert frames.source.seeks == 1  # opening (frame 0) only: from there everything decodes on
    frames.close()
