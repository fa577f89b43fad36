"""Protocol details of the API against the real server: GraphQL operation selection and the
frames a propagation sends."""

from __future__ import annotations

import pytest
import requests

from demo.testing.client import iter_parts

PEDESTRIANS = "gallery/pedestrians_768x576_24fps.mp4"  # 144 frames
TWO_OPERATIONS = "query A { serverInfo { device } } query B { serverInfo { modelSize } }"


def test_several_operations_need_an_operation_name(server):
    url = f"{server.url}/graphql"
    unnamed = requests.post(url, json={"query": TWO_OPERATIONS}, timeout=30).json()
    assert unnamed.get("data") is None
    assert "operationName" in unnamed["errors"][0]["message"]
    named = requests.post(url, json={"query": TWO_OPERATIONS, "operationName": "B"}, timeout=30).json()
    assert "errors" not in named and set(named["data"]["serverInfo"]) == {"modelSize"}
    single = requests.post(url, json={"query": "query A { serverInfo { device } }"}, timeout=30).json()
    assert single["data"]["serverInfo"]["device"] == "cpu"


@pytest.mark.parametrize(
    "start, direction, expected",
    [
        (143, "both", [143, 142, 141, 140, 139]),  # the last frame: sent once, not twice
        (0, "both", [0, 1, 2, 3, 4]),
        (2, "both", [2, 3, 4, 5, 6, 1, 0]),
        (3, "backward", [3, 2, 1, 0]),
    ],
)
def test_each_frame_is_sent_once(client, start, direction, expected):
    sid = client.start_session(PEDESTRIANS)
    client.add_points(sid, start, 1, [[0.5, 0.5]], [1])
    parts = list(iter_parts(client.propagate(sid, start, direction=direction, max_frames=5)))
    frames = [p.body["frame_index"] for p in parts if "frame_index" in p.body]
    assert frames == expected
    assert {int(p.headers["frame-total"]) for p in parts} == {len(expected)}
    client.close_session(sid)
