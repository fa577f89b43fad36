"""Tests of the SAM 2 image encoder: Hiera trunk, FPN neck, window helpers.

The parity checks against recorded reference outputs read ../shared/golden (next to the
repository root) and skip when it is absent.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sam2.modeling.backbones.hieradet import Hiera, MultiScaleAttention
from sam2.modeling.backbones.image_encoder import FpnNeck, ImageEncoder
from sam2.modeling.backbones.utils import PatchEmbed, window_partition, window_unpartition
from sam2.modeling.position_encoding import PositionEmbeddingSine

REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN = REPO_ROOT.parent / "shared" / "golden"

# Trunk/neck arguments of configs/sam2.1/sam2.1_hiera_t.yaml and of the golden micro model.
TINY_TRUNK = {
    "embed_dim": 96, "num_heads": 1, "stages": [1, 2, 7, 2], "global_att_blocks": [5, 7, 9],
    "window_pos_embed_bkg_spatial_size": [7, 7],
}  # fmt: skip
TINY_NECK = {"d_model": 256, "backbone_channel_list": [768, 384, 192, 96]}
MICRO_TRUNK = {
    "embed_dim": 16, "num_heads": 1, "stages": [1, 2, 3, 2], "global_att_blocks": [5],
    "window_pos_embed_bkg_spatial_size": [7, 7],
}  # fmt: skip
MICRO_NECK = {"d_model": 64, "backbone_channel_list": [128, 64, 32, 16]}


def build_encoder(trunk_args: dict, neck_args: dict) -> ImageEncoder:
    """The image encoder exactly as the official YAMLs configure it (scalp 1, nearest FPN)."""
    neck = FpnNeck(
        position_encoding=PositionEmbeddingSine(neck_args["d_model"], temperature=10000, normalize=True),
        fpn_top_down_levels=[2, 3],
        fpn_interp_model="nearest",
        **neck_args,
    )
    return ImageEncoder(trunk=Hiera(**trunk_args), neck=neck, scalp=1).eval()


def read_keys_tsv(path: Path, prefix: str) -> list:
    rows = []
    for line in path.read_text().splitlines():
        key, shape, dtype = line.split("\t")
        if key.startswith(prefix):
            rows.append((key[len(prefix) :], shape, dtype))
    return rows


def need_golden(*parts: str) -> Path:
    path = GOLDEN.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"golden fixture {path} not found (../shared is absent)")
    return path


# --------------------------------------------------------------------------------------
# Shapes and structure


@pytest.mark.parametrize(
    "trunk_args, channels",
    [(MICRO_TRUNK, [16, 32, 64, 128]), (TINY_TRUNK, [96, 192, 384, 768])],
    ids=["micro", "tiny"],
)
def test_trunk_output_shapes_per_stage(trunk_args, channels):
    trunk = Hiera(**trunk_args).eval()
    with torch.no_grad():
        feats = trunk(torch.randn(1, 3, 256, 256))
    assert [tuple(f.shape) for f in feats] == [(1, c, 64 // 2**s, 64 // 2**s) for s, c in enumerate(channels)]
    assert trunk.channel_list == channels[::-1]


def test_trunk_non_square_input_and_last_stage_only():
    trunk = Hiera(**MICRO_TRUNK, return_interm_layers=False).eval()
    with torch.no_grad():
        feats = trunk(torch.randn(2, 3, 192, 320))
    assert [tuple(f.shape) for f in feats] == [(2, 128, 6, 10)]
    assert trunk.channel_list == [128]


def test_pooling_without_widening_keeps_residual_shapes():
    # Not used by official configs (they always widen when pooling), but must not crash.
    trunk = Hiera(embed_dim=8, stages=[1, 1, 1, 1], dim_mul=1.0, head_mul=1.0, global_att_blocks=[2]).eval()
    with torch.no_grad():
        feats = trunk(torch.randn(1, 3, 128, 128))
    assert [tuple(f.shape) for f in feats] == [(1, 8, 32, 32), (1, 8, 16, 16), (1, 8, 8, 8), (1, 8, 4, 4)]


def test_tiny_block_layout_matches_official_config():
    trunk = Hiera(**TINY_TRUNK)
    assert trunk.stage_ends == [0, 2, 9, 11]
    assert trunk.q_pool_blocks == [1, 3, 10]
    # A stage's first block still uses the previous stage's window; 0 = global attention.
    assert [b.window_size for b in trunk.blocks] == [8, 8, 4, 4, 14, 0, 14, 0, 14, 0, 14, 7]
    assert [b.attn.num_heads for b in trunk.blocks] == [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 8, 8]
    assert [b.dim_out for b in trunk.blocks] == [96, 192, 192] + [384] * 7 + [768, 768]


def test_image_encoder_outputs_micro():
    encoder = build_encoder(MICRO_TRUNK, MICRO_NECK)
    with torch.no_grad():
        out = encoder(torch.randn(1, 3, 256, 256))
    assert set(out) == {"vision_features", "vision_pos_enc", "backbone_fpn"}
    # scalp=1 drops the 8x8 level.
    shapes = [(1, 64, 64, 64), (1, 64, 32, 32), (1, 64, 16, 16)]
    assert [tuple(f.shape) for f in out["backbone_fpn"]] == shapes
    assert [tuple(p.shape) for p in out["vision_pos_enc"]] == shapes
    assert out["vision_features"] is out["backbone_fpn"][-1]


def test_state_dict_matches_official_tiny_checkpoint_keys():
    keys_tsv = need_golden("keys", "sam2.1_hiera_t.tsv")
    expected = read_keys_tsv(keys_tsv, "image_encoder.")
    encoder = build_encoder(TINY_TRUNK, TINY_NECK)
    got = [
        (k, "x".join(map(str, v.shape)), str(v.dtype).replace("torch.", ""))
        for k, v in encoder.state_dict().items()
    ]
    assert got == expected


def test_state_dict_matches_micro_fixture_keys():
    expected = read_keys_tsv(need_golden("micro", "keys.tsv"), "image_encoder.")
    encoder = build_encoder(MICRO_TRUNK, MICRO_NECK)
    got = [(k, "x".join(map(str, v.shape)), "float32") for k, v in encoder.state_dict().items()]
    assert got == expected


# --------------------------------------------------------------------------------------
# Window helpers


def test_window_partition_round_trip_with_padding():
    x = torch.arange(2 * 5 * 7 * 3, dtype=torch.float32).reshape(2, 5, 7, 3)
    windows, padded = window_partition(x, 4)
    assert padded == (8, 8)
    assert windows.shape == (2 * 2 * 2, 4, 4, 3)  # 2 images x 2x2 windows
    # Row-major window order: window 1 is the top-right one, padded on the right.
    assert torch.equal(windows[0], x[0, :4, :4])
    assert torch.equal(windows[1, :, :3], x[0, :4, 4:7])
    assert torch.all(windows[1, :, 3:] == 0)
    assert torch.equal(windows[4], x[1, :4, :4])
    # Bottom windows: one real row, three zero rows.
    assert torch.all(windows[2, 1:] == 0)
    assert torch.equal(window_unpartition(windows, 4, padded, (5, 7)), x)


def test_window_partition_without_padding_is_exact_tiling():
    x = torch.randn(1, 6, 6, 2)
    windows, padded = window_partition(x, 3)
    assert padded == (6, 6)
    assert torch.equal(windows[3], x[0, 3:6, 3:6])
    assert torch.equal(window_unpartition(windows, 3, padded, (6, 6)), x)


# --------------------------------------------------------------------------------------
# Hand-checkable values


def test_window_positional_embedding_is_background_plus_tiled_window():
    trunk = Hiera(embed_dim=2, num_heads=1, stages=[1, 1, 1, 1], window_pos_embed_bkg_spatial_size=[3, 3])
    with torch.no_grad():
        trunk.pos_embed.fill_(0.5)  # bicubic resize of a constant stays that constant
        trunk.pos_embed_window.copy_(torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(1, 2, 8, 8))
    pos = trunk._get_pos_embed((16, 24))  # (1, H, W, C)
    assert pos.shape == (1, 16, 24, 2)
    for i, j in [(0, 0), (3, 5), (9, 17), (15, 23)]:
        expected = 0.5 + trunk.pos_embed_window[0, :, i % 8, j % 8]
        torch.testing.assert_close(pos[0, i, j], expected, atol=1e-6, rtol=0)


def test_positional_embedding_is_cached_for_inference_and_follows_the_weights():
    trunk = Hiera(embed_dim=2, num_heads=1, stages=[1, 1, 1, 1], window_pos_embed_bkg_spatial_size=[3, 3])
    with torch.inference_mode():
        first = trunk._get_pos_embed((16, 24))
        assert trunk._get_pos_embed((16, 24)) is first  # one bicubic resize per grid, not per frame
        assert trunk._get_pos_embed((8, 8)).shape == (1, 8, 8, 2)
    with torch.no_grad():
        trunk.pos_embed.add_(1.0)  # new weights (a loaded checkpoint copies in place too)
        moved = trunk._get_pos_embed((16, 24))
    torch.testing.assert_close(moved, first + 1.0)
    assert trunk._get_pos_embed((16, 24)).requires_grad  # training: computed, with its graph


def test_attention_with_uniform_weights_averages_values_and_pools_queries():
    attn = MultiScaleAttention(dim=2, dim_out=2, num_heads=1, q_pool=nn.MaxPool2d(2, 2))
    with torch.no_grad():
        attn.qkv.weight.zero_()
        attn.qkv.bias.zero_()
        attn.qkv.weight[4:6] = torch.eye(2)  # v = x; q = k = 0 -> uniform attention
        attn.proj.weight.copy_(torch.eye(2))
        attn.proj.bias.zero_()
    x = torch.tensor([[[[1.0, 10.0], [2.0, 20.0]], [[3.0, 30.0], [6.0, 60.0]]]])  # (1, 2, 2, 2)
    out = attn(x)
    assert out.shape == (1, 1, 1, 2)  # 2x2 queries pooled to 1x1
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([3.0, 30.0]))


def _identity_neck(fuse_type="sum", top_down=None):
    neck = FpnNeck(
        PositionEmbeddingSine(2),
        d_model=2,
        backbone_channel_list=[2, 2],
        fuse_type=fuse_type,
        fpn_interp_model="nearest",
        fpn_top_down_levels=top_down,
    )
    with torch.no_grad():
        for lateral in neck.convs:
            lateral.conv.weight.copy_(torch.eye(2).reshape(2, 2, 1, 1))
            lateral.conv.bias.zero_()
    return neck


@pytest.mark.parametrize(
    "fuse_type, top_down, expected_fine",
    [("sum", None, [[6.0, 7.0], [8.0, 9.0]]), ("avg", None, [[3.0, 3.5], [4.0, 4.5]]), ("sum", [1], None)],
)
def test_fpn_neck_fuses_nearest_upsampled_coarser_level(fuse_type, top_down, expected_fine):
    neck = _identity_neck(fuse_type, top_down)
    fine = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).expand(1, 2, 2, 2)
    coarse = torch.full((1, 2, 1, 1), 5.0)
    features, pos = neck([fine, coarse])
    torch.testing.assert_close(features[1], coarse)
    want = fine if expected_fine is None else torch.tensor(expected_fine).expand(1, 2, 2, 2)
    torch.testing.assert_close(features[0], want)
    assert [tuple(p.shape) for p in pos] == [(1, 2, 2, 2), (1, 2, 1, 1)]


# --------------------------------------------------------------------------------------
# Clear errors


def test_image_size_not_multiple_of_32_is_a_clear_error():
    trunk = Hiera(**MICRO_TRUNK)
    with pytest.raises(ValueError, match="multiples of 32"):
        trunk(torch.randn(1, 3, 200, 256))


def test_wrong_channel_count_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        PatchEmbed(embed_dim=8)(torch.randn(1, 4, 32, 32))


def test_mismatched_trunk_and_neck_channels_is_a_clear_error():
    neck = FpnNeck(PositionEmbeddingSine(64), d_model=64, backbone_channel_list=[128, 64, 32, 8])
    with pytest.raises(ValueError, match="channel lists differ"):
        ImageEncoder(Hiera(**MICRO_TRUNK), neck)


def test_bad_neck_input_count_is_a_clear_error():
    neck = _identity_neck()
    with pytest.raises(ValueError, match="expects 2 feature maps, got 1"):
        neck([torch.zeros(1, 2, 2, 2)])


# --------------------------------------------------------------------------------------
# Parity with the recorded reference (golden micro fixture)


def _load_golden_weights_module():
    spec = importlib.util.spec_from_file_location("golden_weights", need_golden("weights.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _preprocess(path: Path, size: int) -> torch.Tensor:
    """The image predictor's transform: [0,1], antialiased bilinear resize to size^2, ImageNet norm."""
    from PIL import Image

    rgb = np.array(Image.open(path).convert("RGB"))
    x = torch.from_numpy(rgb).permute(2, 0, 1).float().div(255.0)[None]
    x = F.interpolate(x, (size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std


@pytest.mark.parametrize(
    "fixture, step, images",
    [
        ("micro", "image/get_image_embedding", ["chelsea_451x300.png"]),
        ("micro", "image/get_image_embedding_batch", ["chelsea_451x300.png", "coffee_150x100.png"]),
        ("tiny", "image/get_image_embedding", ["chelsea_320x213.png"]),  # 1024 px, ~2 s
    ],
)
def test_image_embedding_matches_reference(fixture, step, images):
    expected_npz = need_golden(fixture, "expected.npz")
    weights = _load_golden_weights_module()
    if fixture == "micro":
        encoder, size = build_encoder(MICRO_TRUNK, MICRO_NECK), 256
    else:
        encoder, size = build_encoder(TINY_TRUNK, TINY_NECK), 1024
    d_model = encoder.neck.d_model
    template = {f"image_encoder.{k}": v for k, v in encoder.state_dict().items()}
    template["no_mem_embed"] = ((1, 1, d_model), torch.float32)
    state = weights.make_state_dict(template)
    prefix = "image_encoder."
    encoder.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})

    batch = torch.cat([_preprocess(GOLDEN / fixture / "images" / name, size) for name in images])
    with torch.no_grad():
        out = encoder(batch)
    # SAM 2 adds the "no memory" embedding to the coarsest kept level for single images.
    embedding = out["vision_features"] + state["no_mem_embed"].view(1, d_model, 1, 1)

    recorded = np.load(expected_npz)
    stride = int(recorded[f"{step}/embedding::stride"])
    assert list(recorded[f"{step}/embedding::shape"]) == list(embedding.shape)
    ref = torch.from_numpy(recorded[f"{step}/embedding::s"].astype(np.float32))
    got = embedding[..., ::stride, ::stride]
    # Contract tolerance (atol = rtol = 1e-3); the reference values are stored as float16.
    bad = (got - ref).abs() > 1e-3 + 1e-3 * ref.abs()
    assert bad.sum().item() == 0, f"{bad.sum().item()} of {bad.numel()} values differ"
