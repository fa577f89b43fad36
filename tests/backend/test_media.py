"""Probe and transcode every hostile and odd upload of ../shared/data/uploads with PyAV."""

from fractions import Fraction

import av
import pytest

from demo.backend import media
from demo.backend.errors import InvalidMedia, LimitExceeded
from demo.backend.settings import Limits

from .conftest import GALLERY, UPLOADS, need_media

LIMITS = Limits()


def decode_all(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = list(c.decode(s))
        return s, frames


@pytest.mark.parametrize(
    "name, error, words",
    [
        ("empty_0_bytes.mp4", InvalidMedia, "not a readable video"),
        ("text_file_named_clip/clip.mp4", InvalidMedia, "not a readable video"),
        ("truncated_first_half_moov_last.mp4", InvalidMedia, "not a readable video"),
        ("audio_only_no_video_stream.mp4", InvalidMedia, "no video stream"),
        ("png_image_renamed.mp4", InvalidMedia, "still image"),
        ("absurd_dimensions_16000x16000_header.mp4", LimitExceeded, "16000x16000"),
    ],
)
def test_probe_rejects(name, error, words):
    need_media()
    with pytest.raises(error, match=words):
        media.probe(UPLOADS / name, LIMITS)


@pytest.mark.parametrize(
    "name, size, frames, fps",
    [
        ("rotated_90_phone_portrait_stored_640x360.mp4", (360, 640), 50, 25),
        ("vfr_variable_frame_rate_320x180.mp4", (320, 180), 48, 17),
        ("vp9_640x360.webm", (640, 360), 50, 25),
        ("vp8_640x360.webm", (640, 360), 50, 25),
        ("quicktime_h264_640x360.mov", (640, 360), 50, 25),
        ("odd_size_641x359_mpeg4.mp4", (640, 358), 50, 25),
        ("h264_10bit_yuv420p10le_640x360.mp4", (640, 360), 50, 25),
        ("h264_yuv444p_640x360.mp4", (640, 360), 50, 25),
        ("one_frame_640x360.mp4", (640, 360), 1, 25),
        ("with_audio_aac_640x360.mp4", (640, 360), 60, 25),
    ],
)
def test_transcode_gives_browser_safe_cfr_h264(tmp_path, name, size, frames, fps):
    need_media()
    info = media.probe(UPLOADS / name, LIMITS)
    out, poster = tmp_path / "out.mp4", tmp_path / "out.jpg"
    result = media.transcode(UPLOADS / name, out, poster, info, LIMITS)
    assert (result.width, result.height, result.num_frames, result.fps) == (*size, frames, fps)
    stream, decoded = decode_all(out)
    assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    assert len(decoded) == frames and (decoded[0].width, decoded[0].height) == size
    assert [f.pts for f in decoded] == sorted(f.pts for f in decoded)  # display order == decode order
    times = [float(f.time) for f in decoded]
    assert times == pytest.approx([i / fps for i in range(frames)], abs=1e-3)  # constant frame rate
    with av.open(str(out)) as c:
        assert not c.streams.audio
    assert poster.stat().st_size > 0


def test_rotation_is_applied_upright(tmp_path):
    """The stored 640x360 frame turned 90 degrees clockwise equals the transcoded first frame."""
    need_media()
    import numpy as np

    src = UPLOADS / "rotated_90_phone_portrait_stored_640x360.mp4"
    info = media.probe(src, LIMITS)
    media.transcode(src, tmp_path / "o.mp4", tmp_path / "o.jpg", info, LIMITS)
    _, stored = decode_all(src)
    _, upright = decode_all(tmp_path / "o.mp4")
    expected = np.rot90(stored[0].to_ndarray(format="rgb24"), k=-1).astype(int)  # clockwise
    assert np.abs(upright[0].to_ndarray(format="rgb24").astype(int) - expected).mean() < 8


def test_truncated_file_that_still_opens_is_rejected(tmp_path):
    need_media()
    src = UPLOADS / "truncated_first_half_moov_first.mp4"
    info = media.probe(src, LIMITS)
    with pytest.raises(InvalidMedia, match="truncated"):
        media.transcode(src, tmp_path / "o.mp4", tmp_path / "o.jpg", info, LIMITS)


def test_trim_and_long_side_limit(tmp_path):
    need_media()
    src = GALLERY / "bunny_1280x720_25fps.mp4"
    info = media.probe(src, LIMITS)
    small = Limits(max_long_side=640)
    result = media.transcode(
        src, tmp_path / "o.mp4", tmp_path / "o.jpg", info, small, start_sec=1.0, duration_sec=0.4
    )
    assert (result.width, result.height, result.num_frames) == (640, 360, 10)
    # Frame k of the trimmed clip is source frame 25 + k.
    _, source = decode_all(src)
    _, trimmed = decode_all(tmp_path / "o.mp4")
    a = trimmed[0].to_ndarray(format="rgb24").astype(int)
    b = source[25].to_ndarray(format="rgb24", width=640, height=360).astype(int)
    c = source[20].to_ndarray(format="rgb24", width=640, height=360).astype(int)
    assert abs(a - b).mean() < abs(a - c).mean()


def test_duration_guard_stops_lying_headers(tmp_path):
    need_media()
    src = UPLOADS / "long_10min_64x36_24fps.mp4"
    info = media.probe(src, LIMITS)
    with pytest.raises(LimitExceeded):
        media.transcode(src, tmp_path / "o.mp4", tmp_path / "o.jpg", info, Limits(max_duration_sec=1))


@pytest.mark.parametrize(
    "source, limit, expected",
    [
        (25, 30, 25),
        (Fraction(30000, 1001), 30, Fraction(30000, 1001)),
        (60, 30, 30),
        (Fraction(768000, 44501), 30, 17),
    ],
)
def test_output_frame_rate(source, limit, expected):
    assert media.output_frame_rate(Fraction(source), limit) == expected


def test_output_size_is_even_and_bounded():
    assert media.output_size(641, 359, 1280) == (640, 358)
    assert media.output_size(3840, 2160, 1280) == (1280, 720)
    assert media.output_size(2160, 3841, 1280) == (718, 1280)
