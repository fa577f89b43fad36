"""segmentEverything against the real server: proposals, the MAX_OBJECTS cap, bad input, progress, cancel."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from demo.backend import rle
from demo.testing.client import GraphQLError

VIDEO = "gallery/pedestrians_768x576_24fps.mp4"  # 768 x 576
RUN = """mutation($input: SegmentEverythingInput!) { segmentEverything(input: $input) {
  frameIndex candidates cancelled seconds
  proposals { score stabilityScore area bbox point rleMask { size counts order } } } }"""
PROGRESS = "query($s: String!) { segmentEverythingProgress(sessionId: $s) { running done total } }"
CANCEL = "mutation($i: CancelSegmentEverythingInput!) { cancelSegmentEverything(input: $i) { success } }"
ADD_MASK = """mutation($i: AddMaskInput!) { addMask(input: $i) { frameIndex rleMaskList { objectId } } }"""
# Random weights: large, nearly identical masks. No thresholds and no NMS so that several
# candidates reach the overlap assignment.
LOOSE = {"pointsPerSide": 8, "minScore": 0.0, "minStability": 0.0, "boxNmsThresh": 1.0, "minArea": 1}


def run(client, sid, frame=3, **params):
    return client.graphql(RUN, {"input": {"sessionId": sid, "frameIndex": frame, **LOOSE, **params}})[
        "segmentEverything"
    ]


def add_mask(client, sid, frame, obj, mask_rle):
    rle_input = {"size": mask_rle["size"], "counts": mask_rle["counts"], "order": "F"}
    return client.graphql(
        ADD_MASK, {"i": {"sessionId": sid, "frameIndex": frame, "objectId": obj, "rleMask": rle_input}}
    )["addMask"]


def test_proposals_are_sorted_non_overlapping_capped_and_can_be_kept(client):
    sid = client.start_session(VIDEO)
    result = run(client, sid)
    assert result["frameIndex"] == 3 and result["cancelled"] is False
    proposals = result["proposals"]
    assert 2 <= len(proposals) <= 16 and result["candidates"] >= len(proposals)
    scores = [p["score"] for p in proposals]
    assert scores == sorted(scores, reverse=True)
    cover = np.zeros((576, 768), dtype=int)
    for p in proposals:
        assert p["rleMask"]["order"] == "F" and p["rleMask"]["size"] == [576, 768]
        mask = rle.decode(p["rleMask"])
        cover += mask
        ys, xs = np.nonzero(mask)
        assert p["area"] == len(xs) >= 1
        assert p["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert all(0 <= v <= 1 for v in p["point"])
    assert cover.max() == 1  # no pixel in two proposals

    # Keep two of them as objects 1 and 2: the existing addMask mutation.
    for obj, p in enumerate(proposals[:2], start=1):
        frame = add_mask(client, sid, 3, obj, p["rleMask"])
        assert frame["frameIndex"] == 3
    assert [o["objectId"] for o in frame["rleMaskList"]] == [1, 2]

    assert len(run(client, sid, maxObjects=1)["proposals"]) == 1
    # MAX_OBJECTS (16) minus the 2 objects: at most 14, and none once 16 are tracked.
    more = run(client, sid)["proposals"]
    assert 1 <= len(more) <= 14
    for obj in range(3, 17):
        add_mask(client, sid, 3, obj, (more * 16)[obj - 3]["rleMask"])
    with pytest.raises(GraphQLError, match="at most 16 objects") as err:
        run(client, sid)
    assert err.value.code == "LIMIT_EXCEEDED"
    client.close_session(sid)


@pytest.mark.parametrize("params, message", [
    ({"frameIndex": 100000}, "frameIndex=100000 is out of range"),
    ({"frameIndex": -1}, "frameIndex=-1 is out of range"),
    ({"pointsPerSide": 0}, "pointsPerSide must be from 1 to 64"),
    ({"pointsPerSide": 65}, "pointsPerSide must be from 1 to 64"),
    ({"minScore": 1.5}, "minScore must be from 0 to 1"),
    ({"minStability": -0.1}, "minStability must be from 0 to 1"),
    ({"boxNmsThresh": 2.0}, "boxNmsThresh must be from 0 to 1"),
    ({"maxObjects": 0}, "maxObjects must be >= 1"),
    ({"minArea": 0}, "minArea must be from 1"),
])
def test_bad_parameters_are_clear_errors(client, params, message):
    sid = client.start_session(VIDEO)
    variables = {"input": {"sessionId": sid, "frameIndex": 0, **params}}
    result = client.graphql_raw(RUN, variables)
    assert result["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert message in result["errors"][0]["message"]
    client.close_session(sid)


def test_unknown_session_and_wrong_types(client):
    result = client.graphql_raw(RUN, {"input": {"sessionId": "no-such-session", "frameIndex": 0}})
    assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    result = client.graphql_raw(RUN, {"input": {"sessionId": "nope", "frameIndex": "x"}})
    assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION"


def test_progress_busy_and_cancel(client):
    sid = client.start_session(VIDEO)
    assert client.graphql(PROGRESS, {"s": sid})["segmentEverythingProgress"] == {
        "running": False, "done": 0, "total": 0}
    outcome = {}

    def long_run():
        started = time.monotonic()
        outcome["result"] = run(client, sid, pointsPerSide=64)  # 64 batches
        outcome["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=long_run)
    worker.start()
    deadline = time.monotonic() + 120
    while True:
        progress = client.graphql(PROGRESS, {"s": sid})["segmentEverythingProgress"]
        if progress["running"] and progress["done"] >= 1:
            break
        assert time.monotonic() < deadline, "no progress reported"
        time.sleep(0.05)
    assert progress["total"] == 64 and progress["done"] < 64
    with pytest.raises(GraphQLError, match="already running") as err:
        run(client, sid)
    assert err.value.code == "BUSY"
    assert client.graphql(CANCEL, {"i": {"sessionId": sid}})["cancelSegmentEverything"]["success"] is True
    worker.join(timeout=120)
    assert not worker.is_alive()
    result = outcome["result"]
    assert result["cancelled"] is True and result["proposals"] == []
    assert client.graphql(PROGRESS, {"s": sid})["segmentEverythingProgress"]["running"] is False
    # The session still works after a cancel.
    assert run(client, sid, pointsPerSide=2)["cancelled"] is False
    client.close_session(sid)


def test_a_run_whose_session_closes_ends_as_expired_not_cancelled(client):
    sid = client.start_session(VIDEO)
    outcome = {}

    def long_run():
        try:
            outcome["result"] = run(client, sid, pointsPerSide=64)
        except GraphQLError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=long_run)
    worker.start()
    deadline = time.monotonic() + 120
    while client.graphql(PROGRESS, {"s": sid})["segmentEverythingProgress"]["done"] < 1:
        assert time.monotonic() < deadline, "no progress reported"
        time.sleep(0.05)
    client.close_session(sid)
    worker.join(timeout=120)
    assert not worker.is_alive()
    assert "result" not in outcome and outcome["error"].code == "SESSION_EXPIRED"


def test_slivers_the_tracker_cannot_hold_are_not_proposed():
    from demo.backend.segment_everything import survives_tracking

    sliver = np.zeros((360, 640), dtype=bool)
    sliver[100, 50:600] = True  # one pixel high: gone at 64 x 64 (micro: 256 / 4)
    square = np.zeros((360, 640), dtype=bool)
    square[100:160, 200:280] = True
    assert not survives_tracking(sliver, 256)
    assert survives_tracking(square, 256)
    assert survives_tracking(sliver | square, 256)
