"""The exported graphs: files, manifest, determinism, and outputs equal to the torch modules'."""

import json
import os

import numpy as np
import pytest
import torch

from sam2.modeling.frame_types import FrameFeatures
from sam2.onnx import graphs

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

GRAPHS = ("image_encoder", "memory_attention", "decoder", "memory_encoder", "mask_prompt")


def session(folder, name):
    return ort.InferenceSession(str(folder / f"{name}.onnx"), providers=["CPUExecutionProvider"])


def close(a, b, atol=1e-4):
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.abs(a - b).max() <= atol, float(np.abs(a - b).max())


def test_folder_has_every_graph_and_a_manifest(micro_export, micro_checkpoint):
    import onnx

    manifest = json.loads((micro_export / "manifest.json").read_text())
    assert sorted(manifest["graphs"]) == sorted(GRAPHS)
    assert manifest["model"]["image_size"] == 256 and manifest["opset"] == 20
    assert manifest["normalization"]["mean"] == [0.485, 0.456, 0.406]
    assert set(manifest["limits"]) == {"max_objects", "max_memory_frames", "max_pointers", "max_points"}
    assert manifest["package_version"] and len(manifest["checkpoint_sha256"]) == 64
    assert manifest["config"] == "configs/sam2.1/sam2.1_hiera_micro.yaml"
    for name in GRAPHS:
        path = micro_export / f"{name}.onnx"
        assert manifest["graphs"][name]["bytes"] == os.path.getsize(path)
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
        assert [i.name for i in model.graph.input] == manifest["graphs"][name]["inputs"]
        # no complex numbers anywhere (RoPE is real arithmetic)
        assert not any(t.data_type in (14, 15) for t in model.graph.initializer)


def test_export_is_deterministic(tmp_path, micro_model):
    from sam2.onnx.export import _export_graph

    paths = []
    for i in range(2):
        module = graphs.MaskPromptGraph(micro_model)
        mask = (torch.rand(2, 1, 256, 256, generator=torch.Generator().manual_seed(i)) > 0.5).float()
        path = tmp_path / f"mask_prompt_{i}.onnx"
        _export_graph(
            "mask_prompt",
            module,
            (mask,),
            {"mask": {0: torch.export.Dim("objects", min=1, max=8)}},
            str(path),
        )
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_image_encoder_matches_torch(micro_export, micro_model):
    image = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        backbone = micro_model.forward_image(image)
    vision, embed, high_0, high_1 = session(micro_export, "image_encoder").run(None, {"image": image.numpy()})
    close(vision, backbone["vision_features"])
    close(embed, backbone["vision_features"] + micro_model.no_mem_embed.reshape(1, -1, 1, 1))
    close(high_0, backbone["backbone_fpn"][0])
    close(high_1, backbone["backbone_fpn"][1])


@pytest.mark.parametrize("objects,frames,pointers", [(1, 1, 0), (1, 1, 1), (3, 4, 5), (2, 7, 16)])
def test_memory_attention_matches_model_condition(micro_export, micro_model, objects, frames, pointers):
    """Dynamic axes, including sizes 0 and 1 the tracer never saw, against SAM2Base.condition."""
    m = micro_model
    g = torch.Generator().manual_seed(objects * 100 + frames * 10 + pointers)
    h = 16
    feats = torch.randn(objects, m.hidden_dim, h, h, generator=g)
    memory = torch.randn(objects, frames, m.mem_dim, h, h, generator=g)
    slots = torch.tensor(([0] + list(range(1, m.num_maskmem)) * 3)[:frames])
    ptrs = torch.randn(objects, pointers, m.hidden_dim, generator=g)
    distances = list(range(1, pointers + 1))
    num_frames = 17
    with torch.no_grad():
        vision_pos = m.image_encoder.neck.position_encoding(feats[:1])
        features = FrameFeatures(
            feats.flatten(2).permute(2, 0, 1),
            vision_pos.flatten(2).permute(2, 0, 1).expand(-1, objects, -1),
            (h, h),
        )
        memory_pos = m.memory_encoder.position_encoding(torch.zeros(1, m.mem_dim, h, h)).expand(
            objects, -1, -1, -1
        )
        spatial = [(int(s), memory[:, i], memory_pos) for i, s in enumerate(slots)]
        context = m.memory_context(spatial, [(d, ptrs[:, j]) for j, d in enumerate(distances)], num_frames)
        expected = m.condition(features, context)
    rel = np.asarray(distances, dtype=np.float32) / np.float32(min(num_frames, m.max_obj_ptrs_in_encoder) - 1)
    (got,) = session(micro_export, "memory_attention").run(
        None,
        {
            "vision_features": feats.numpy(),
            "memory": memory.numpy(),
            "memory_slots": slots.numpy(),
            "obj_ptrs": ptrs.numpy(),
            "obj_ptr_pos": rel,
        },
    )
    close(got, expected)


@pytest.mark.parametrize("objects,points,with_mask", [(1, 0, True), (1, 2, False), (3, 4, True)])
def test_decoder_matches_torch_heads(micro_export, micro_model, objects, points, with_mask):
    m = micro_model
    g = torch.Generator().manual_seed(objects + points)
    h = 16
    embed = torch.randn(objects, 64, h, h, generator=g)
    high = [torch.randn(objects, 8, 64, 64, generator=g), torch.randn(objects, 16, 32, 32, generator=g)]
    coords = torch.rand(objects, points, 2, generator=g) * 256
    labels = torch.randint(-1, 4, (objects, points), generator=g)
    mask = torch.randn(objects, 1, 64, 64, generator=g)
    with torch.no_grad():
        sparse, dense = m.sam_prompt_encoder(
            points=(coords, labels) if points else None, boxes=None, masks=mask if with_mask else None
        )
        if not points:
            sparse = sparse[:, :0]
        masks, iou, tokens, scores = m.sam_mask_decoder.predict_masks(
            embed,
            m.sam_prompt_encoder.get_dense_pe(),
            sparse,
            dense,
            repeat_image=False,
            high_res_features=high,
        )
        ptr = m.obj_ptr_proj(tokens)
        absent = (scores <= 0).float()[:, :, None]
        ptr = ptr + absent * m.no_obj_ptr
    if points:  # the graph takes the padding point from the caller
        coords = torch.cat([coords, torch.zeros(objects, 1, 2)], 1)
        labels = torch.cat([labels, -torch.ones(objects, 1, dtype=labels.dtype)], 1)
    got = session(micro_export, "decoder").run(
        None,
        {
            "image_embed": embed.numpy(),
            "high_res_0": high[0].numpy(),
            "high_res_1": high[1].numpy(),
            "point_coords": coords.numpy(),
            "point_labels": labels.numpy().astype(np.int64),
            "mask_input": mask.numpy(),
            "has_mask_input": np.array([float(with_mask)], np.float32),
            "ptr_presence": np.ones((objects, 1), np.float32),
        },
    )
    for a, b in zip(got, (masks, iou, ptr, scores)):
        close(a, b)


@pytest.mark.parametrize("binarize", [0.0, 1.0])
def test_memory_encoder_matches_model(micro_export, micro_model, binarize):
    m = micro_model
    g = torch.Generator().manual_seed(3)
    feats = torch.randn(2, 64, 16, 16, generator=g)
    low = torch.randn(2, 1, 64, 64, generator=g) * 4
    scores = torch.tensor([[1.0], [-2.0]])
    with torch.no_grad():
        features = FrameFeatures(
            feats.flatten(2).permute(2, 0, 1), feats.flatten(2).permute(2, 0, 1), (16, 16)
        )
        high = torch.nn.functional.interpolate(low, size=(256, 256), mode="bilinear", align_corners=False)
        expected, _ = m.encode_memory(features, high, scores, is_mask_from_pts=bool(binarize))
    (got,) = session(micro_export, "memory_encoder").run(
        None,
        {
            "vision_features": feats.numpy(),
            "mask_logits": low.numpy(),
            "object_score_logits": scores.numpy(),
            "binarize": np.array([binarize], np.float32),
        },
    )
    close(got, expected)


def test_mask_prompt_matches_mask_as_prediction(micro_export, micro_model):
    m = micro_model
    mask = (torch.rand(2, 1, 256, 256, generator=torch.Generator().manual_seed(5)) > 0.6).float()
    with torch.no_grad():
        features = FrameFeatures(
            torch.zeros(256, 2, 64),
            torch.zeros(256, 2, 64),
            (16, 16),
            [torch.zeros(2, 8, 64, 64), torch.zeros(2, 16, 32, 32)],
        )
        expected = m.mask_as_prediction(features.as_map(), features.high_res, mask)
        expected_down = m.mask_downsample(mask)
    low, down = session(micro_export, "mask_prompt").run(None, {"mask": mask.numpy()})
    close(low, expected.mask_logits)
    close(down, expected_down)
