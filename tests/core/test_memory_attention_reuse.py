"""Reusing the memory attention's first self-attention gives exactly the same output."""

import torch
from shared_paths import MICRO_CONFIG

from sam2.build_sam import build_sam2


def test_first_self_attention_reuse_is_exact():
    torch.manual_seed(0)
    attention = build_sam2(MICRO_CONFIG, device="cpu").memory_attention
    curr, curr_pos = torch.randn(256, 1, 64), torch.randn(256, 1, 64)
    memory, memory_pos = torch.randn(3 * 256 + 4, 1, 32), torch.randn(3 * 256 + 4, 1, 32)
    with torch.inference_mode():
        plain = attention(curr, memory, curr_pos, memory_pos, num_obj_ptr_tokens=4)
        first = attention.first_layer_self_attention(curr, curr_pos)
        reused = attention(curr, memory, curr_pos, memory_pos, num_obj_ptr_tokens=4, first_self_attention=first)
        other_memory = attention(curr, memory * 2, curr_pos, memory_pos, num_obj_ptr_tokens=4,
                                 first_self_attention=first)
    assert torch.equal(plain, reused)
    assert not torch.equal(plain, other_memory)


def test_tracking_shares_the_first_step_between_objects(micro_video_predictor, golden_dir):
    predictor = micro_video_predictor
    state = predictor.init_state(str(golden_dir / "micro" / "frames"))
    predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
    predictor.add_new_points_or_box(state, 0, 2, points=[[150, 60]], labels=[1])
    calls = []
    original = predictor.memory_attention.first_layer_self_attention

    def counting(*args):
        calls.append(1)
        return original(*args)

    predictor.memory_attention.first_layer_self_attention = counting
    try:
        list(predictor.propagate_in_video(state, max_frame_num_to_track=3))
        assert len(calls) == 3, "once per tracked frame, not once per object"
        list(predictor.propagate_in_video(state, max_frame_num_to_track=3))
        assert len(calls) == 3, "a second pass reuses it"
    finally:
        del predictor.memory_attention.first_layer_self_attention
