"""Data sets: VOS folders, SA-V masklets, SA-1B images, RLE, mixing and the step sampler."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from training.datasets.clip import DataError
from training.datasets.dataset import ClipDataset, StepSampler
from training.datasets.rle import decode_rle, encode_rle
from training.datasets.sa1b import SA1BFolder
from training.datasets.sav import SAVFolder
from training.datasets.vos_folder import VOSFolder, read_id_mask
from training.synthetic import make_video
from training.transforms import Compose, ResizeSquare


def test_vos_clip_matches_the_annotations(vos_root):
    data = VOSFolder(vos_root)
    assert len(data) == 6
    rng = np.random.default_rng(0)
    for _ in range(5):
        clip = data.sample_clip(rng, num_frames=4, max_stride=2, max_objects=2)
        assert clip.frames.shape == (4, 3, 96, 128) and clip.frames.dtype == torch.float32
        assert 1 <= clip.num_objects <= 2
        steps = np.diff(clip.frame_indices)
        assert len(set(steps.tolist())) == 1 and 1 <= steps[0] <= 2
        for t, idx in enumerate(clip.frame_indices):
            ids = read_id_mask(os.path.join(vos_root, "Annotations", clip.name, f"{idx:05d}.png"))
            for k, obj in enumerate(clip.object_ids):
                assert np.array_equal(clip.masks[t, k].numpy(), ids == obj)
        assert all(clip.masks[0, k].any() for k in range(clip.num_objects))


def test_vos_clip_shorter_video_than_clip(vos_root):
    clip = VOSFolder(vos_root).sample_clip(np.random.default_rng(1), num_frames=50, max_stride=3, max_objects=5)
    assert clip.num_frames == 10 and clip.frame_indices == list(range(10))


def _mini_vos(root, size=(20, 30), ann_mode="P", ann_value=1):
    os.makedirs(os.path.join(root, "JPEGImages", "v"), exist_ok=True)
    os.makedirs(os.path.join(root, "Annotations", "v"), exist_ok=True)
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(os.path.join(root, "JPEGImages", "v", "00000.jpg"))
    ids = np.zeros(size, np.uint8)
    ids[2:5, 2:5] = ann_value
    im = Image.fromarray(ids, mode="L")
    im = im.convert(ann_mode) if ann_mode != "L" else im
    im.save(os.path.join(root, "Annotations", "v", "00000.png"))


@pytest.mark.parametrize("case,message", [
    ("empty", "no object"),
    ("rgb", "palette"),
    ("size", "30x20"),
    ("broken_jpeg", "cannot be read"),
    ("no_annotations", "no annotated frame"),
    ("missing_root", "not a folder"),
])
def test_vos_errors_are_clear(tmp_path, case, message):
    root = str(tmp_path)
    _mini_vos(root, size=(10, 10) if case == "size" else (20, 30), ann_mode="RGB" if case == "rgb" else "L",
              ann_value=0 if case == "empty" else 1)
    if case == "broken_jpeg":
        with open(os.path.join(root, "JPEGImages", "v", "00000.jpg"), "wb") as f:
            f.write(b"not a jpeg")
    if case == "no_annotations":
        os.remove(os.path.join(root, "Annotations", "v", "00000.png"))
    if case == "missing_root":
        root = str(tmp_path / "absent")
    with pytest.raises(DataError, match=message):
        VOSFolder(root).sample_clip(np.random.default_rng(0), 2, 1, 1)


def test_rle_round_trip_and_pycocotools_strings():
    rng = np.random.default_rng(0)
    masks = [rng.random((13, 17)) > 0.6, np.zeros((4, 5), bool), np.ones((3, 3), bool)]
    for m in masks:
        assert np.array_equal(decode_rle(encode_rle(m)), m)
    mask_utils = pytest.importorskip("pycocotools.mask")
    for m in masks + [rng.random((60, 40)) > 0.3]:
        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        rle["counts"] = rle["counts"].decode("ascii")
        assert np.array_equal(decode_rle(rle), m)


def test_rle_errors():
    with pytest.raises(DataError, match="sum"):
        decode_rle({"size": [2, 2], "counts": [1, 1]})
    with pytest.raises(DataError, match="COCO RLE"):
        decode_rle({"counts": [4]})


def _write_sav(root, use_mp4: bool):
    import av

    rng = np.random.default_rng(0)
    frames, ids = make_video(rng, 9, (48, 64), 2)
    name = "sav_000001"
    if use_mp4:
        with av.open(os.path.join(root, name + ".mp4"), "w") as out:
            stream = out.add_stream("mpeg4", rate=24)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            stream.bit_rate = 4_000_000
            for f in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    else:
        os.makedirs(os.path.join(root, name))
        for t, f in enumerate(frames):
            Image.fromarray(f).save(os.path.join(root, name, f"{t:05d}.jpg"), quality=95)
    annotated = list(range(0, 9, 4))  # every 4th frame
    masklet = [[encode_rle(ids[t] == k) for k in (1, 2)] for t in annotated]
    with open(os.path.join(root, name + "_manual.json"), "w") as f:
        json.dump({"masklet": masklet, "video_id": name}, f)
    return frames, ids


@pytest.mark.parametrize("use_mp4", [False, True])
def test_sav_clip(tmp_path, use_mp4):
    frames, ids = _write_sav(str(tmp_path), use_mp4)
    data = SAVFolder(str(tmp_path), annotation_stride=4)
    clip = data.sample_clip(np.random.default_rng(0), num_frames=3, max_stride=1, max_objects=2)
    assert clip.frame_indices == [0, 4, 8]
    for t, idx in enumerate(clip.frame_indices):
        for k, obj in enumerate(clip.object_ids):
            assert np.array_equal(clip.masks[t, k].numpy(), ids[idx] == obj + 1)
        decoded = clip.frames[t].permute(1, 2, 0).numpy() * 255
        err = np.abs(decoded - frames[idx]).mean()
        assert err < 12  # lossy codecs, same picture
        assert err < np.abs(decoded - frames[idx - 1]).mean()  # and not its neighbour


def test_sav_errors(tmp_path):
    with pytest.raises(DataError, match="masklet"):
        SAVFolder(str(tmp_path))
    (tmp_path / "x_manual.json").write_text("{}")
    with pytest.raises(DataError, match="no video"):
        SAVFolder(str(tmp_path))


def test_sa1b_clip(tmp_path):
    rng = np.random.default_rng(0)
    image = (rng.random((30, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "sa_1.jpg", quality=95)
    masks = [np.zeros((30, 40), bool) for _ in range(3)]
    for i, m in enumerate(masks):
        m[i * 5:i * 5 + 6, 3:20] = True
    (tmp_path / "sa_1.json").write_text(json.dumps(
        {"image": {"file_name": "sa_1.jpg"}, "annotations": [{"segmentation": encode_rle(m)} for m in masks]}))
    clip = SA1BFolder(str(tmp_path)).sample_clip(rng, 8, 2, 2)
    assert clip.frames.shape == (1, 3, 30, 40) and clip.num_objects == 2
    for k, obj in enumerate(clip.object_ids):
        assert np.array_equal(clip.masks[0, k].numpy(), masks[obj])


def test_clip_dataset_is_a_function_of_the_index_and_mixes_sources(vos_root, tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((30, 40, 3)) * 255).astype(np.uint8)).save(tmp_path / "sa_1.jpg")
    m = np.zeros((30, 40), bool)
    m[5:15, 5:15] = True
    (tmp_path / "sa_1.json").write_text(json.dumps({"annotations": [{"segmentation": encode_rle(m)}]}))
    sources = [VOSFolder(vos_root), SA1BFolder(str(tmp_path))]
    ds = ClipDataset(sources, [3.0, 1.0], Compose([ResizeSquare(64)]), 4, 2, 2, seed=5)
    a, b = ds[17], ds[17]
    assert torch.equal(a["clip"].frames, b["clip"].frames) and a["seed"] == b["seed"]
    frames = [ds[i]["clip"].num_frames for i in range(80)]
    share_images = frames.count(1) / len(frames)
    assert 0.1 < share_images < 0.45  # about 1 in 4
    only_video = ClipDataset(sources, [1.0, 0.0], Compose([ResizeSquare(64)]), 4, 2, 2)
    assert all(only_video[i]["clip"].num_frames == 4 for i in range(10))
    with pytest.raises(ValueError):
        ClipDataset(sources, [0.0, 0.0], Compose([]), 4, 2, 2)


def test_step_sampler_splits_the_global_batch():
    one = list(StepSampler(8, 1, 0, 1, start_step=2, end_step=4))
    assert one == list(range(16, 32))
    shards = [list(StepSampler(8, 2, r, 2, start_step=2, end_step=4)) for r in range(2)]
    assert sorted(shards[0] + shards[1]) == one
    assert len(shards[0]) == 8 and shards[0][:2] == [16, 17]
    with pytest.raises(ValueError, match="multiple"):
        StepSampler(3, 2, 0, 1, 0, 1)
