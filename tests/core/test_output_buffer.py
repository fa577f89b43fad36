"""ReusableOutput: a yielded tensor is reused only once no one holds it, never while in use."""

import torch

from sam2.video.output_buffer import ReusableOutput


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def test_a_released_tensor_is_reused():
    pool = ReusableOutput()
    first = pool.empty((2, 1, 8, 8), torch.float32, torch.device("cpu"))
    address = _storage(first)
    del first
    again = pool.empty((2, 1, 8, 8), torch.float32, torch.device("cpu"))
    assert _storage(again) == address


def test_tensors_in_use_are_never_handed_out_again():
    pool = ReusableOutput()
    cpu = torch.device("cpu")
    held = pool.empty((4, 4), torch.float32, cpu)
    view = pool.empty((4, 4), torch.float32, cpu)[1:]  # only a view of the second survives
    array = pool.empty((4, 4), torch.float32, cpu).numpy()  # only a numpy array of the third
    held.fill_(1)
    view.fill_(2)
    array[:] = 3
    others = [pool.empty((4, 4), torch.float32, cpu) for _ in range(3)]
    for t in others:
        t.fill_(-1)
    addresses = {_storage(held), _storage(view), array.__array_interface__["data"][0]}
    assert len(addresses) == 3
    assert not addresses & {_storage(t) for t in others}
    assert (held == 1).all() and (view == 2).all() and (array == 3).all()


def test_a_new_shape_or_dtype_gets_a_new_tensor():
    pool = ReusableOutput()
    cpu = torch.device("cpu")
    pool.empty((3, 5), torch.float32, cpu)
    b = pool.empty((5, 3), torch.float32, cpu)
    assert b.shape == (5, 3)
    c = pool.empty((5, 3), torch.float64, cpu)
    assert c.dtype == torch.float64 and _storage(c) != _storage(b)
    address = _storage(c)
    del c
    assert _storage(pool.empty((5, 3), torch.float64, cpu)) == address
    pool.release()
    assert pool.empty((5, 3), torch.float64, cpu).shape == (5, 3)


def test_propagation_never_overwrites_masks_the_caller_keeps(micro_video_predictor, golden_dir):
    predictor = micro_video_predictor
    state = predictor.init_state(str(golden_dir / "micro" / "frames"))
    predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
    predictor.add_new_points_or_box(state, 0, 2, points=[[150, 60]], labels=[1])
    kept, copies = [], []
    for _, _, masks in predictor.propagate_in_video(state):
        kept.append(masks)
        copies.append(masks.clone())
    assert len({_storage(m) for m in kept}) == len(kept)
    assert all(torch.equal(k, c) for k, c in zip(kept, copies))

    # A caller that lets go of each frame's masks gets them in two tensors, taken in turn
    # (the loop variable still holds the last frame's while the next one is computed).
    addresses, again = [], []
    for _, _, masks in predictor.propagate_in_video(state):
        addresses.append(_storage(masks))
        again.append(masks.clone())
    assert len(set(addresses)) == 2
    assert all(torch.equal(a, c) for a, c in zip(again, copies)), "reuse changes no number"


def test_closing_the_state_lets_the_tensors_go(micro_video_predictor, golden_dir):
    predictor = micro_video_predictor
    state = predictor.init_state(str(golden_dir / "micro" / "frames"))
    predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
    for _ in predictor.propagate_in_video(state, max_frame_num_to_track=3):
        pass
    pooled = [own for own, _ in state.video_res_output._pool]
    assert len(pooled) == 2
    storages = [own.untyped_storage() for own in pooled]
    del pooled
    before = [torch._C._storage_Use_Count(s._cdata) for s in storages]
    predictor.close_state(state)
    after = [torch._C._storage_Use_Count(s._cdata) for s in storages]
    assert all(a == b - 1 for a, b in zip(after, before))
