"""Tests of the SAM heads and memory modules: position encodings (incl. RoPE), two-way
transformer, prompt encoder, mask decoder, memory attention and memory encoder.

Hand-checkable properties plus the checkpoint key layout against ../shared/golden/keys
(skipped when ../shared is absent).
"""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from sam2.modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
from sam2.modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
from sam2.modeling.position_encoding import (
    PositionEmbeddingRandom,
    PositionEmbeddingSine,
    apply_rotary_enc,
    compute_axial_cis,
)
from sam2.modeling.sam.mask_decoder import MaskDecoder
from sam2.modeling.sam.prompt_encoder import PromptEncoder
from sam2.modeling.sam.transformer import Attention, RoPEAttention, TwoWayTransformer

REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN = REPO_ROOT.parent / "shared" / "golden"
PREFIXES = ("memory_attention.", "memory_encoder.", "sam_prompt_encoder.", "sam_mask_decoder.")
OFFICIAL_CONFIGS = [f"{v}_hiera_{s}" for v in ("sam2", "sam2.1") for s in ("t", "s", "b+", "l")]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ---------------------------------------------------------------------------- builders
# Constructor arguments as SAM2Base / the official YAMLs use them, with d_model D,
# memory width M, image size S (embedding grid S/16).


def build_prompt_encoder(D=256, S=1024):
    return PromptEncoder(
        embed_dim=D, image_embedding_size=(S // 16, S // 16), input_image_size=(S, S), mask_in_chans=16
    )


def build_mask_decoder(D=256, **overrides):
    args = {
        "num_multimask_outputs": 3,
        "iou_head_depth": 3,
        "iou_head_hidden_dim": 256,
        "use_high_res_features": True,
        "iou_prediction_use_sigmoid": True,
        "pred_obj_scores": True,
        "pred_obj_scores_mlp": True,
        "use_multimask_token_for_obj_ptr": True,
        "dynamic_multimask_via_stability": True,
    }
    args.update(overrides)
    transformer = TwoWayTransformer(depth=2, embedding_dim=D, mlp_dim=2048, num_heads=8)
    return MaskDecoder(transformer_dim=D, transformer=transformer, **args)


def build_memory_attention(D=256, M=64, feat=64, ff=2048, num_layers=4):
    def rope(**kw):
        return RoPEAttention(
            rope_theta=10000.0,
            feat_sizes=[feat, feat],
            embedding_dim=D,
            num_heads=1,
            downsample_rate=1,
            dropout=0.1,
            **kw,
        )

    layer = MemoryAttentionLayer(
        activation="relu",
        cross_attention=rope(rope_k_repeat=True, kv_in_dim=M),
        d_model=D,
        dim_feedforward=ff,
        dropout=0.1,
        pos_enc_at_attn=False,
        pos_enc_at_cross_attn_keys=True,
        pos_enc_at_cross_attn_queries=False,
        self_attention=rope(),
    )
    return MemoryAttention(d_model=D, pos_enc_at_input=True, layer=layer, num_layers=num_layers)


def build_memory_encoder(D=256, M=64):
    return MemoryEncoder(
        out_dim=M,
        in_dim=D,
        mask_downsampler=MaskDownSampler(embed_dim=D, kernel_size=3, stride=2, padding=1),
        fuser=Fuser(
            layer=CXBlock(dim=D, kernel_size=7, padding=3, layer_scale_init_value=1e-6), num_layers=2
        ),
        position_encoding=PositionEmbeddingSine(
            num_pos_feats=M, normalize=True, scale=None, temperature=10000
        ),
    )


def micro_modules():
    # Same order as in SAM2Base, hence in the checkpoints.
    return {
        "memory_attention.": build_memory_attention(64, 32, 16, 128, 2),
        "memory_encoder.": build_memory_encoder(64, 32),
        "sam_prompt_encoder.": build_prompt_encoder(64, 256),
        "sam_mask_decoder.": build_mask_decoder(64),
    }


# ------------------------------------------------------------------ position encodings


def test_rope_preserves_norms_and_is_identity_at_origin():
    rot = compute_axial_cis(dim=32, end_x=4, end_y=3)
    assert rot.shape == (12, 16) and rot.dtype == torch.complex64
    q, k = torch.randn(2, 1, 12, 32), torch.randn(2, 1, 12, 32)
    q_rot, k_rot = apply_rotary_enc(q, k, rot)
    torch.testing.assert_close(q_rot.norm(dim=-1), q.norm(dim=-1))
    # Token 0 sits at (x, y) = (0, 0): no rotation at all.
    torch.testing.assert_close(q_rot[:, :, 0], q[:, :, 0], rtol=0, atol=0)
    torch.testing.assert_close(k_rot[:, :, 0], k[:, :, 0], rtol=0, atol=0)
    assert not torch.allclose(q_rot[:, :, 5], q[:, :, 5])


def test_rope_angles_follow_grid_position():
    dim, end_x = 16, 5
    rot = compute_axial_cis(dim=dim, end_x=end_x, end_y=4)
    freqs = 1.0 / 10000 ** (torch.arange(0, dim, 4).float() / dim)  # dim/4 frequencies per axis
    token = 2 * end_x + 3  # row 2, column 3
    expected = torch.cat([3 * freqs, 2 * freqs])
    torch.testing.assert_close(rot[token].angle(), torch.atan2(expected.sin(), expected.cos()))


def test_rope_scores_depend_only_on_relative_position():
    # <R(p) q, R(p') k> is the same for every pair with the same offset p - p'.
    rot = compute_axial_cis(dim=8, end_x=4, end_y=4)
    q = torch.randn(8).expand(1, 1, 16, 8)
    k = torch.randn(8).expand(1, 1, 16, 8)
    q_rot, k_rot = apply_rotary_enc(q, k, rot)

    def score(a, b):
        return (q_rot[0, 0, a] * k_rot[0, 0, b]).sum()

    # (x=1,y=0)->(x=0,y=0) and (x=3,y=2)->(x=2,y=2): both offset (1, 0)
    torch.testing.assert_close(score(1, 0), score(2 * 4 + 3, 2 * 4 + 2))


def test_rope_repeated_key_frames_and_empty_keys():
    rot = compute_axial_cis(dim=8, end_x=3, end_y=3)
    q, k = torch.randn(1, 2, 9, 8), torch.randn(1, 2, 27, 8)
    _, k_rot = apply_rotary_enc(q, k, rot, repeat_freqs_k=True)
    for frame in range(3):  # each frame of keys rotated like the queries
        _, expected = apply_rotary_enc(q, k[:, :, 9 * frame : 9 * (frame + 1)], rot)
        torch.testing.assert_close(k_rot[:, :, 9 * frame : 9 * (frame + 1)], expected)
    empty = k[:, :, :0]
    assert apply_rotary_enc(q, empty, rot, repeat_freqs_k=True)[1] is empty
    with pytest.raises(ValueError, match="RoPE table"):
        apply_rotary_enc(torch.randn(1, 1, 10, 8), k, rot)


def test_sine_embedding_hand_values_and_cache():
    pe = PositionEmbeddingSine(num_pos_feats=8)
    out = pe(torch.zeros(2, 3, 4, 5))
    assert out.shape == (2, 8, 4, 5)
    # Channel 0: sin of the normalised y position; channel 1: cos of it; channel 4: sin(x).
    y = torch.arange(1, 5, dtype=torch.float32) / (4 + 1e-6) * 2 * math.pi
    x = torch.arange(1, 6, dtype=torch.float32) / (5 + 1e-6) * 2 * math.pi
    torch.testing.assert_close(out[0, 0, :, 0], y.sin())
    torch.testing.assert_close(out[0, 1, :, 0], y.cos())
    torch.testing.assert_close(out[1, 4, 0, :], x.sin())
    assert (4, 5, torch.float32, torch.device("cpu")) in pe.cache
    single = pe(torch.zeros(1, 3, 4, 5))
    torch.testing.assert_close(single[0], out[0], rtol=0, atol=0)
    # Batch 1 is a view of the cached map; another dtype is the float32 map rounded, cached apart.
    assert single.data_ptr() == pe(torch.zeros(1, 3, 4, 5)).data_ptr()
    half = pe(torch.zeros(1, 3, 4, 5, dtype=torch.bfloat16))
    assert half.dtype == torch.bfloat16 and torch.equal(half, single.bfloat16())
    with pytest.raises(ValueError, match="even"):
        PositionEmbeddingSine(num_pos_feats=7)


def test_random_embedding_grid_matches_point_encoding():
    pe = PositionEmbeddingRandom(num_pos_feats=16)
    grid = pe((4, 6))
    assert grid.shape == (32, 4, 6)
    # sin/cos halves of the same angle: squares sum to one
    torch.testing.assert_close(grid[:16] ** 2 + grid[16:] ** 2, torch.ones(16, 4, 6))
    # The grid cell (row 1, col 2) centre is the pixel point (2.5, 1.5) of a 6x4 image.
    point = pe.forward_with_coords(torch.tensor([[[2.5, 1.5]]]), (4, 6))
    torch.testing.assert_close(point[0, 0], grid[:, 1, 2])


# ----------------------------------------------------------------------- transformer


def test_attention_downsampling_and_bad_heads():
    attn = Attention(embedding_dim=32, num_heads=4, downsample_rate=2, kv_in_dim=16)
    assert attn.q_proj.weight.shape == (16, 32) and attn.k_proj.weight.shape == (16, 16)
    out = attn(torch.randn(2, 5, 32), torch.randn(2, 7, 16), torch.randn(2, 7, 16))
    assert out.shape == (2, 5, 32)
    with pytest.raises(ValueError, match="num_heads"):
        Attention(embedding_dim=30, num_heads=4)


def test_rope_attention_rebuilds_table_and_skips_excluded_keys():
    attn = RoPEAttention(
        embedding_dim=16, num_heads=2, rope_k_repeat=True, kv_in_dim=8, feat_sizes=(8, 8)
    ).eval()
    assert attn.freqs_cis.shape == (64, 4)
    q, kv = torch.randn(1, 16, 16), torch.randn(1, 2 * 16 + 3, 8)
    out = attn(q, kv, kv, num_k_exclude_rope=3)
    assert out.shape == (1, 16, 16) and attn.freqs_cis.shape == (16, 4)  # rebuilt for a 4x4 grid

    # Same result by hand: rotate only the first 32 keys (two frames), leave 3 pointer keys.
    qh, kh, vh = (
        attn._split_heads(p(x)) for p, x in ((attn.q_proj, q), (attn.k_proj, kv), (attn.v_proj, kv))
    )
    rot = compute_axial_cis(8, 4, 4)
    qh, k_rot = apply_rotary_enc(qh, kh[:, :, :32], rot, repeat_freqs_k=True)
    kh = torch.cat([k_rot, kh[:, :, 32:]], dim=2)
    manual = attn.out_proj(attn._merge_heads(F.scaled_dot_product_attention(qh, kh, vh)))
    torch.testing.assert_close(out, manual)
    # Inference rotates the keys in place (two heads: strided views): the same numbers.
    with torch.no_grad():
        assert torch.equal(attn(q, kv, kv, num_k_exclude_rope=3), out)
    with torch.enable_grad():
        no_ptr = attn(q, kv[:, :32], kv[:, :32])
    with torch.inference_mode():
        assert torch.equal(attn(q, kv[:, :32], kv[:, :32]), no_ptr)
    # bfloat16 keys rotated in place, a grid at a time: bit for bit the whole-tensor rotation.
    keys = kh[:, :, :32].bfloat16()
    _, expected = apply_rotary_enc(qh, keys, rot, repeat_freqs_k=True)
    _, rotated = apply_rotary_enc(qh, keys, rot, repeat_freqs_k=True, keys_in_place=True)
    assert rotated is keys and torch.equal(rotated, expected)
    with pytest.raises(ValueError, match="whole grids"):
        apply_rotary_enc(qh, kh[:, :, :31].clone(), rot, repeat_freqs_k=True, keys_in_place=True)

    with pytest.raises(ValueError, match="square"):
        attn(torch.randn(1, 15, 16), torch.randn(1, 15, 8), torch.randn(1, 15, 8))
    with pytest.raises(ValueError, match="whole frames"):
        attn(q, kv, kv, num_k_exclude_rope=0)


def test_two_way_transformer_shapes():
    transformer = TwoWayTransformer(depth=2, embedding_dim=32, num_heads=4, mlp_dim=64)
    tokens, image = transformer(torch.randn(2, 32, 4, 5), torch.randn(2, 32, 4, 5), torch.randn(2, 7, 32))
    assert tokens.shape == (2, 7, 32) and image.shape == (2, 20, 32)
    assert transformer.layers[0].skip_first_layer_pe and not transformer.layers[1].skip_first_layer_pe


# -------------------------------------------------------------------- prompt encoder


def test_prompt_encoder_padding_point_and_labels():
    enc = build_prompt_encoder(D=32, S=64)
    coords = torch.tensor([[[10.0, 20.0], [30.0, 5.0]]])
    labels = torch.tensor([[1, 0]], dtype=torch.int32)
    sparse, dense = enc((coords, labels), None, None)
    assert sparse.shape == (1, 3, 32)  # two clicks + one padding token
    torch.testing.assert_close(sparse[0, 2], enc.not_a_point_embed.weight[0], rtol=0, atol=0)
    pos = enc.pe_layer.forward_with_coords(coords + 0.5, (64, 64))
    torch.testing.assert_close(sparse[0, 0], pos[0, 0] + enc.point_embeddings[1].weight[0])
    torch.testing.assert_close(sparse[0, 1], pos[0, 1] + enc.point_embeddings[0].weight[0])
    # No mask prompt: the learned "no mask" vector on every cell of the 4x4 grid.
    assert dense.shape == (1, 32, 4, 4)
    torch.testing.assert_close(dense[0, :, 3, 1], enc.no_mask_embed.weight[0])
    # An explicit -1 label is a padding token too, wherever it sits.
    sparse2, _ = enc((coords, torch.tensor([[-1, 1]])), None, None)
    torch.testing.assert_close(sparse2[0, 0], enc.not_a_point_embed.weight[0], rtol=0, atol=0)


def test_prompt_encoder_boxes_equal_corner_points():
    enc = build_prompt_encoder(D=32, S=64)
    box = torch.tensor([[4.0, 6.0, 40.0, 50.0]])
    box_tokens, _ = enc(None, box, None)
    corner_tokens, _ = enc((box.reshape(1, 2, 2), torch.tensor([[2, 3]])), box, None)  # box given: no padding
    assert box_tokens.shape == (1, 2, 32) and corner_tokens.shape == (1, 4, 32)
    torch.testing.assert_close(corner_tokens[:, :2], box_tokens)
    torch.testing.assert_close(corner_tokens[:, 2:], box_tokens)


def test_prompt_encoder_mask_prompt_and_errors():
    enc = build_prompt_encoder(D=32, S=64)
    assert enc.mask_input_size == (16, 16)
    sparse, dense = enc(None, None, torch.randn(3, 1, 16, 16))
    assert sparse.shape == (3, 0, 32) and dense.shape == (3, 32, 4, 4)
    assert enc.get_dense_pe().shape == (1, 32, 4, 4)
    with pytest.raises(ValueError, match="labels"):
        enc((torch.zeros(1, 2, 2), torch.zeros(1, 3)), None, None)
    with pytest.raises(ValueError, match="coords"):
        enc((torch.zeros(1, 2, 3), torch.zeros(1, 2)), None, None)
    with pytest.raises(ValueError, match="mask prompts"):
        enc(None, None, torch.zeros(1, 2, 16, 16))


# ---------------------------------------------------------------------- mask decoder


def _decoder_inputs(D, batch, grid=4):
    enc = build_prompt_encoder(D=D, S=16 * grid)
    coords = torch.rand(batch, 2, 2) * 16 * grid
    sparse, dense = enc((coords, torch.ones(batch, 2, dtype=torch.int32)), None, None)
    high_res = [
        torch.randn(batch, D // 8, 4 * grid, 4 * grid),
        torch.randn(batch, D // 4, 2 * grid, 2 * grid),
    ]
    return torch.randn(1, D, grid, grid), enc.get_dense_pe(), sparse, dense, high_res


@torch.no_grad()
def test_mask_decoder_output_shapes():
    dec = build_mask_decoder(D=32).eval()
    image, pe, sparse, dense, high_res = _decoder_inputs(32, batch=2)
    masks, iou, tokens, obj = dec(image, pe, sparse, dense, True, True, high_res)
    assert (
        masks.shape == (2, 3, 16, 16)
        and iou.shape == (2, 3)
        and tokens.shape == (2, 3, 32)
        and obj.shape == (2, 1)
    )
    assert ((iou > 0) & (iou < 1)).all()  # sigmoid IoU head
    masks, iou, tokens, obj = dec(image, pe, sparse, dense, False, True, high_res)
    assert masks.shape == (2, 1, 16, 16) and iou.shape == (2, 1) and tokens.shape == (2, 1, 32)
    with pytest.raises(ValueError, match="high_res_features"):
        dec(image, pe, sparse, dense, False, True, None)
    with pytest.raises(ValueError, match="repeat_image"):
        dec(image, pe, sparse, dense, False, False, high_res)


@torch.no_grad()
def test_mask_decoder_without_object_head_scores_present():
    dec = build_mask_decoder(
        D=32, use_high_res_features=False, pred_obj_scores=False, pred_obj_scores_mlp=False
    ).eval()
    assert not hasattr(dec, "obj_score_token") and not hasattr(dec, "conv_s0")
    image, pe, sparse, dense, _ = _decoder_inputs(32, batch=3)
    masks, _, tokens, obj = dec(image.expand(3, -1, -1, -1), pe, sparse, dense, True, False)
    assert masks.shape == (3, 3, 16, 16)
    assert tokens.shape == (3, 3, 32)  # use_multimask_token_for_obj_ptr stays on
    torch.testing.assert_close(obj, torch.full((3, 1), 10.0))
    assert isinstance(
        build_mask_decoder(D=32, pred_obj_scores_mlp=False).pred_obj_score_head, torch.nn.Linear
    )


def test_dynamic_multimask_picks_best_iou_when_unstable():
    dec = build_mask_decoder(D=32).eval()
    h = w = 8
    stable = torch.full((h, w), -5.0)
    stable[:4] = 5.0  # all logits far from 0: stability 1
    unstable = stable.clone()
    unstable[4:6] = 0.01  # 16 pixels inside (-delta, delta]: stability 32/48
    multi = torch.randn(3, h, w)
    logits = torch.stack([torch.cat([unstable[None], multi]), torch.cat([stable[None], multi])])
    ious = torch.tensor([[0.9, 0.2, 0.7, 0.4], [0.9, 0.2, 0.7, 0.4]])

    scores = dec._get_stability_scores(logits[:, 0])
    torch.testing.assert_close(scores, torch.tensor([32 / 48, 1.0]))
    out_masks, out_iou = dec._dynamic_multimask_via_stability(logits, ious)
    assert out_masks.shape == (2, 1, h, w) and out_iou.shape == (2, 1)
    torch.testing.assert_close(out_masks[0, 0], multi[1])  # best multimask IoU 0.7 is token 2
    torch.testing.assert_close(out_iou[0], torch.tensor([0.7]))
    torch.testing.assert_close(out_masks[1, 0], stable)  # stable single mask kept
    torch.testing.assert_close(out_iou[1], torch.tensor([0.9]))
    # An empty single mask counts as stable.
    torch.testing.assert_close(dec._get_stability_scores(torch.full((1, h, w), -1.0)), torch.tensor([1.0]))


@torch.no_grad()
def test_dynamic_multimask_only_in_eval():
    dec = build_mask_decoder(D=32)
    image, pe, sparse, dense, high_res = _decoder_inputs(32, batch=1)
    dec.train()
    train_masks, _, _, _ = dec(image, pe, sparse, dense, False, True, high_res)
    all_masks = dec.predict_masks(image, pe, sparse, dense, True, high_res)[0]
    torch.testing.assert_close(train_masks, all_masks[:, :1])  # plain token 0 in training


# ------------------------------------------------------------------- memory modules


@torch.no_grad()
def test_memory_attention_shapes_and_pointer_tokens():
    att = build_memory_attention(D=32, M=16, feat=4, ff=64, num_layers=2).eval()
    curr, curr_pos = torch.randn(16, 2, 32), torch.randn(16, 2, 32)
    spatial = torch.randn(2 * 16, 2, 16)  # two memory frames of the 4x4 grid
    pointers = torch.randn(4, 2, 16)
    memory = torch.cat([spatial, pointers])
    out = att(curr, memory, curr_pos, torch.randn_like(memory), num_obj_ptr_tokens=4)
    assert out.shape == (16, 2, 32)
    out_list = att([curr], spatial, [curr_pos], torch.randn_like(spatial))
    assert out_list.shape == (16, 2, 32)
    # Pointers are not grid tokens: counting them as spatial keys breaks the frame structure.
    with pytest.raises(ValueError, match="whole frames"):
        att(curr, memory, curr_pos, torch.randn_like(memory), num_obj_ptr_tokens=0)
    with pytest.raises(ValueError, match="batch size"):
        att(curr, memory[:, :1], curr_pos, memory[:, :1])


@torch.no_grad()
def test_memory_encoder_shapes_and_sigmoid_switch():
    enc = build_memory_encoder(D=32, M=16).eval()
    pix, masks = torch.randn(2, 32, 4, 4), torch.randn(2, 1, 64, 64)
    out = enc(pix, masks)
    assert out["vision_features"].shape == (2, 16, 4, 4)
    assert len(out["vision_pos_enc"]) == 1 and out["vision_pos_enc"][0].shape == (2, 16, 4, 4)
    skipped = enc(pix, torch.sigmoid(masks), skip_mask_sigmoid=True)
    torch.testing.assert_close(skipped["vision_features"], out["vision_features"])
    with pytest.raises(ValueError, match="downsamples"):
        enc(pix, torch.randn(2, 1, 32, 32))
    assert isinstance(build_memory_encoder(D=32, M=32).out_proj, torch.nn.Identity)


def test_mask_downsampler_channel_progression():
    down = MaskDownSampler(embed_dim=256, kernel_size=3, stride=2, padding=1)
    convs = [m for m in down.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 16, 64, 256, 256]
    assert down(torch.randn(1, 1, 64, 64)).shape == (1, 256, 4, 4)
    with pytest.raises(ValueError, match="power"):
        MaskDownSampler(stride=4, total_stride=8)


def test_cx_block_starts_near_identity_and_fuser_projection():
    block = CXBlock(dim=8)
    x = torch.randn(1, 8, 5, 5)
    torch.testing.assert_close(block(x), x, atol=1e-4, rtol=0)  # layer scale 1e-6
    assert CXBlock(dim=8, layer_scale_init_value=0).gamma is None
    fuser = Fuser(CXBlock(dim=8), num_layers=3, dim=8, input_projection=True)
    assert isinstance(fuser.proj, torch.nn.Conv2d) and len(fuser.layers) == 3
    assert fuser.layers[0] is not fuser.layers[1]
    with pytest.raises(ValueError, match="dim"):
        Fuser(CXBlock(dim=8), num_layers=1, input_projection=True)


# --------------------------------------------------------------- checkpoint layout


def _golden_rows(path: Path):
    if not path.exists():
        pytest.skip(f"golden key list {path} not found (../shared is absent)")
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    return [(k, s, d) for k, s, d in rows if k.startswith(PREFIXES)]


def _our_rows(modules: dict):
    rows = []
    for prefix, module in modules.items():
        for key, value in module.state_dict().items():
            shape = "x".join(str(n) for n in value.shape)
            rows.append((prefix + key, shape, str(value.dtype).replace("torch.", "")))
    return rows


@pytest.fixture(scope="module")
def official_rows():
    modules = {
        "memory_attention.": build_memory_attention(),
        "memory_encoder.": build_memory_encoder(),
        "sam_prompt_encoder.": build_prompt_encoder(),
        "sam_mask_decoder.": build_mask_decoder(),
    }
    return _our_rows(modules)


@pytest.mark.parametrize("config", OFFICIAL_CONFIGS)
def test_state_dict_matches_official_keys(config, official_rows):
    expected = [tuple(r) for r in _golden_rows(GOLDEN / "keys" / f"{config}.tsv")]
    assert official_rows == expected  # same keys, shapes, dtypes and order


def test_state_dict_matches_micro_keys():
    expected = [tuple(r) for r in _golden_rows(GOLDEN / "micro" / "keys.tsv")]
    assert _our_rows(micro_modules()) == expected


@pytest.mark.parametrize(
    "fixture, config", [("micro", "sam2.1_hiera_micro.yaml"), ("tiny", "sam2.1_hiera_t.yaml")]
)
def test_config_targets_instantiate(fixture, config):
    """The memory modules of the golden YAMLs resolve to our classes and give the golden keys."""
    pytest.importorskip("hydra")
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    path = GOLDEN / fixture / config
    if not path.exists():
        pytest.skip(f"golden config {path} not found (../shared is absent)")
    model_cfg = OmegaConf.load(path).model
    modules = {
        "memory_attention.": instantiate(model_cfg.memory_attention, _recursive_=True),
        "memory_encoder.": instantiate(model_cfg.memory_encoder, _recursive_=True),
    }
    keys_file = GOLDEN / "keys" / "sam2.1_hiera_t.tsv" if fixture == "tiny" else GOLDEN / fixture / "keys.tsv"
    expected = [tuple(r) for r in _golden_rows(keys_file) if r[0].startswith(tuple(modules))]
    assert _our_rows(modules) == expected
