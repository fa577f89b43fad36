"""RLE must match pycocotools byte for byte, both ways."""

import numpy as np
import pytest

from demo.backend import rle

mask_utils = pytest.importorskip("pycocotools.mask")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside pycocotools


def coco_encode(mask: np.ndarray) -> dict:
    out = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(out["size"]), "counts": out["counts"].decode()}


def masks():
    rng = np.random.default_rng(7)
    yield np.zeros((5, 7), bool)
    yield np.ones((5, 7), bool)
    yield np.eye(9, dtype=bool)
    yield np.zeros((1, 1), bool)
    yield np.ones((1, 1), bool)
    disk = np.zeros((720, 1280), bool)
    yy, xx = np.mgrid[:720, :1280]
    disk[(yy - 300) ** 2 + (xx - 600) ** 2 < 200**2] = True
    yield disk
    for _ in range(200):
        h, w = rng.integers(1, 70, 2)
        yield rng.random((h, w)) < rng.random()


@pytest.mark.parametrize("mask", list(masks()), ids=lambda m: f"{m.shape[0]}x{m.shape[1]}")
def test_encode_matches_pycocotools_and_round_trips(mask):
    ours = rle.encode(mask)
    assert ours == coco_encode(mask)
    assert np.array_equal(rle.decode(ours), mask)
    assert np.array_equal(mask_utils.decode({"size": ours["size"], "counts": ours["counts"].encode()}), mask)
    assert rle.area(ours) == int(mask.sum())


def test_decode_accepts_uncompressed_counts():
    mask = np.array([[0, 1], [1, 1]], bool)  # column-major: 0, 1, 1, 1
    assert np.array_equal(rle.decode({"size": [2, 2], "counts": [1, 3]}), mask)


@pytest.mark.parametrize(
    "bad",
    [
        {"size": [2, 2], "counts": [1, 2]},  # covers 3 of 4 pixels
        {"size": [2], "counts": "04"},
        {"size": [-1, 2], "counts": ""},
        {"size": [2, 2], "counts": "\x7f"},
        {"size": [2, 2], "counts": "o"},  # continuation bit set, then nothing
        {"size": [2, 2], "counts": 12},
        {"size": [2, 2], "counts": [-1, 5]},
        {"size": [2, 2], "counts": "é"},  # not ASCII
        {"size": [2, 2], "counts": "o" * 13 + "0"},  # a number past 64 bits
        {"size": [2, 2], "counts": [10**30, 0]},  # past int64
        {"size": [2, 2], "counts": [2**62, 2**62, 2**62, 2**62 + 4]},  # sums to 4 in int64
        "not a dict",
    ],
)
def test_decode_rejects_malformed(bad):
    with pytest.raises(ValueError):
        rle.decode(bad)


def _counts_to_string_by_the_spec(counts: list[int]) -> str:
    """COCO's compressed counts, one run at a time (the format's definition, written plainly)."""
    chars = []
    for i, value in enumerate(counts):
        if i > 2:
            value -= counts[i - 2]
        while True:
            group, value = value & 0x1F, value >> 5
            more = value != -1 if group & 0x10 else value != 0
            chars.append(chr(48 + (group | 0x20 if more else group)))
            if not more:
                break
    return "".join(chars)


@pytest.mark.parametrize("high", [2, 40, 5000, 10**12])
def test_vectorised_counts_string_follows_the_spec(high):
    rng = np.random.default_rng(high)
    for n in (0, 1, 2, 3, 4, 7, 200):
        counts = [int(v) for v in rng.integers(0, high, size=n)]
        text = rle.runs_to_string(counts)
        assert text == _counts_to_string_by_the_spec(counts)
        assert rle.string_to_run_array(text).tolist() == counts
