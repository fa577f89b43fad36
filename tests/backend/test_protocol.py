"""Protocol details of the API against the real server: GraphQL operation selection, the frames a
propagation sends, and its stream held to the rules of Meta's official page."""

from __future__ import annotations

import json
import re

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


# -- the stream, held to the rules of Meta's official page ----------------------------------------
# Written from reading its multipart reader and the loop that consumes it (sam2 demo/frontend):
# the response type must start "multipart/x-savi-stream;" and give "; boundary=<rest>"; before each
# part any number of CRLF lines, then exactly "--<boundary>\r\n"; header lines end in CRLF and are
# "Name: value" (a space after the colon); Content-Length is required and read as an integer; the
# body is that many bytes; at the end of the stream nothing but CRLF lines may be left over. Each
# part needs a Content-Type, and one starting "application/json" must hold `frame_index` and a
# `results` list of {object_id, mask}: other types are passed over.


class OfficialRulesBroken(AssertionError):
    pass


def official_parts(content_type: str, body: bytes) -> list[tuple[dict, bytes]]:
    """The parts Meta's page would take from this response; OfficialRulesBroken where it would throw."""
    if not content_type.startswith("multipart/x-savi-stream;"):
        raise OfficialRulesBroken('endpoint needs to support Content-Type "multipart/x-savi-stream"')
    if "; boundary=" not in content_type:
        raise OfficialRulesBroken("Invalid content type for multipart stream")
    delimiter = b"--" + content_type.split("; boundary=", 1)[1].encode() + b"\r\n"
    parts, pos = [], 0
    while True:
        while body.startswith(b"\r\n", pos):
            pos += 2
        if pos == len(body):
            return parts
        if len(body) - pos < len(delimiter):
            raise OfficialRulesBroken("multipart stream ended mid-part")
        if body[pos : pos + len(delimiter)] != delimiter:
            raise OfficialRulesBroken(f"bad part boundary at {body[pos:pos + 20]!r}")
        pos += len(delimiter)
        headers: dict[str, str] = {}
        while True:
            cr = body.find(b"\r", pos)
            if cr < 0 or cr + 1 == len(body):
                raise OfficialRulesBroken("multipart stream ended mid-part")
            if body[cr + 1 : cr + 2] != b"\n":
                raise OfficialRulesBroken("bad part header line (CR without NL)")
            line = body[pos:cr].decode()
            pos = cr + 2
            if line == "":
                break
            name, colon, value = line.partition(":")
            if not colon or not value.startswith(" "):
                raise OfficialRulesBroken('bad part header line (no ": ")')
            headers[name.lower()] = value[1:]
        leading = re.match(r"\s*[+-]?\d+", headers.get("content-length", ""))  # as parseInt reads it
        if leading is None:
            raise OfficialRulesBroken("missing/invalid part Content-Length")
        size = int(leading.group())
        if len(body) - pos < size:
            raise OfficialRulesBroken("multipart stream ended mid-part")
        parts.append((headers, body[pos : pos + size]))
        pos += size


def official_frames(content_type: str, body: bytes) -> list[int]:
    """What the official page renders: frame indices of its JSON parts, read as it reads them."""
    frames = []
    for headers, data in official_parts(content_type, body):
        if "content-type" not in headers:
            raise OfficialRulesBroken("a part without Content-Type (the page calls startsWith on it)")
        if headers["content-type"].startswith("application/json"):
            doc = json.loads(data)
            if not isinstance(doc.get("results"), list):
                raise OfficialRulesBroken("a JSON part without `results`: the page maps over it")
            for result in doc["results"]:
                assert isinstance(result["object_id"], int) and set(result["mask"]) >= {"size", "counts"}
            frames.append(doc["frame_index"])
    return frames


def test_the_official_rules_as_read_refuse_what_its_parser_refused():
    """The checker itself: our old closing delimiter and an error part as JSON broke the page."""
    kind = "multipart/x-savi-stream; boundary=frame"
    frame = b'{"frame_index":0,"results":[]}'
    good = b"--frame\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(frame), frame)
    assert official_frames(kind, good) == [0]
    with pytest.raises(OfficialRulesBroken, match="bad part boundary"):
        official_frames(kind, good + b"--frame--\r\n")
    error = b'{"error":{"message":"x"}}'
    as_json = b"--frame\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(error), error)
    with pytest.raises(OfficialRulesBroken, match="results"):
        official_frames(kind, good + as_json)
    with pytest.raises(OfficialRulesBroken, match="mid-part"):
        official_frames(kind, good[:-10])


def raw_stream(client, sid: str, **extra) -> tuple[str, bytes]:
    response = client.propagate(sid, 0, **extra)
    assert response.status_code == 200
    return response.headers["Content-Type"], response.raw.read()


def test_a_finished_stream_keeps_the_official_rules_and_ends_with_our_end_part(client):
    sid = client.start_session(PEDESTRIANS)
    client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
    kind, body = raw_stream(client, sid, direction="forward", max_frames=4)
    assert official_frames(kind, body) == [0, 1, 2, 3]
    last_headers, last = official_parts(kind, body)[-1]
    assert last_headers["content-type"] == "application/vnd.sam2-demo.end+json"
    assert json.loads(last) == {"end": True, "frames": 4, "cancelled": False}
    client.close_session(sid)


def test_a_stream_that_fails_keeps_the_official_rules_and_ends_with_our_error_part(client, server):
    sid = client.start_session(PEDESTRIANS)
    client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
    response = client.propagate(sid, 0, direction="forward")
    first = response.raw.read(200)  # the stream runs ...
    client.close_session(sid)  # ... and its session ends meanwhile
    body = first + response.raw.read()
    kind = response.headers["Content-Type"]
    frames = official_frames(kind, body)
    assert 0 < len(frames) < 144
    last_headers, last = official_parts(kind, body)[-1]
    assert last_headers["content-type"] == "application/vnd.sam2-demo.error+json"
    assert json.loads(last)["error"]["code"] == "SESSION_EXPIRED"
