"""A table of bad requests (GraphQL and REST): each gets a clear error, the server stays up,
and another user's session keeps working throughout."""

from __future__ import annotations

import http.client
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests

from demo.backend import rle

from .conftest import UPLOADS

ADD_POINTS = "mutation($i: AddPointsInput!) { addPoints(input: $i) { frameIndex } }"
ADD_BOX = "mutation($i: AddBoxInput!) { addBox(input: $i) { frameIndex } }"
ADD_MASK = "mutation($i: AddMaskInput!) { addMask(input: $i) { frameIndex } }"
START = "mutation($p: String!) { startSession(input: {path: $p}) { sessionId } }"


@dataclass
class Ctx:
    url: str
    client: object
    sid: str  # a live session on the 10-frame clip (1280x720), without prompts
    data_path: object


@dataclass
class Answer:
    status: int
    message: str


def gql(query: str, variables: dict | None = None) -> Callable[[Ctx], Answer]:
    def run(ctx: Ctx) -> Answer:
        resolved = json.loads(json.dumps(variables or {}).replace("$SID", ctx.sid))
        r = requests.post(f"{ctx.url}/graphql", json={"query": query, "variables": resolved}, timeout=60)
        return Answer(r.status_code, " | ".join(e["message"] for e in r.json().get("errors", [])))

    return run


def points(**fields) -> Callable[[Ctx], Answer]:
    base = {
        "sessionId": "$SID",
        "frameIndex": 0,
        "objectId": 1,
        "points": [[0.5, 0.5]],
        "labels": [1],
        "clearOldPoints": True,
    }
    return gql(ADD_POINTS, {"i": {**base, **fields}})


def box(**fields) -> Callable[[Ctx], Answer]:
    return gql(ADD_BOX, {"i": {"sessionId": "$SID", "frameIndex": 0, "objectId": 1, **fields}})


def mask(rle_mask: dict) -> Callable[[Ctx], Answer]:
    return gql(ADD_MASK, {"i": {"sessionId": "$SID", "frameIndex": 0, "objectId": 1, "rleMask": rle_mask}})


def upload(name: str, **times) -> Callable[[Ctx], Answer]:
    def run(ctx: Ctx) -> Answer:
        result = ctx.client.upload_raw(UPLOADS / name, times.get("start"), times.get("duration"))
        return Answer(200, " | ".join(e["message"] for e in result.get("errors", [])))

    return run


def rest(method: str, path: str, body=None, raw: bytes | None = None) -> Callable[[Ctx], Answer]:
    def run(ctx: Ctx) -> Answer:
        conn = http.client.HTTPConnection(ctx.url.split("//")[1], timeout=60)
        payload = (
            raw
            if raw is not None
            else (json.dumps(body).replace("$SID", ctx.sid).encode() if body is not None else None)
        )
        conn.request(
            method,
            path.replace("$SID", ctx.sid),
            body=payload,
            headers={"Content-Type": "application/json"} if payload is not None else {},
        )
        response = conn.getresponse()
        text = response.read().decode(errors="replace")
        conn.close()
        try:
            message = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = text
        return Answer(response.status, message)

    return run


def message_of(response: requests.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return response.text
    if "errors" in doc:
        return " | ".join(e["message"] for e in doc["errors"])
    return (doc.get("error") or {}).get("message", response.text)


def post(body: bytes, content_type: str = "application/json", headers: dict | None = None):
    """A raw POST /graphql (bodies a GraphQL client would never send)."""

    def run(ctx: Ctx) -> Answer:
        r = requests.post(
            f"{ctx.url}/graphql",
            data=body,
            headers={"Content-Type": content_type, **(headers or {})},
            timeout=60,
        )
        return Answer(r.status_code, message_of(r))

    return run


def post_json(doc, headers: dict | None = None):
    return post(json.dumps(doc).encode(), headers=headers)


UPLOAD_QUERY = "mutation($file: Upload!) { uploadVideo(file: $file) { path } }"


def multipart(operations: str, files_map: str, with_file: bool = True):
    """A GraphQL multipart request with the given (possibly malformed) 'operations' and 'map'."""

    def run(ctx: Ctx) -> Answer:
        files = {"0": ("a.mp4", (UPLOADS / "one_frame_640x360.mp4").read_bytes(), "video/mp4")}
        r = requests.post(
            f"{ctx.url}/graphql",
            data={"operations": operations, "map": files_map},
            files=files if with_file else {"unrelated": ("x", b"x")},
            timeout=60,
        )
        return Answer(r.status_code, message_of(r))

    return run


LONG_NAME = "x" * 300 + ".mp4"
UPLOAD_OPS = json.dumps({"query": UPLOAD_QUERY, "variables": {"file": None}})
MANY_ALIASES = "{ " + " ".join(f"a{i}: serverInfo {{ device }}" for i in range(50_000)) + " }"
TWENTY_ALIASES = "{ " + " ".join(f"a{i}: serverInfo {{ device }}" for i in range(20)) + " }"
ALIASED_STARTS = "mutation { " + " ".join(
    f'a{i}: startSession(input: {{path: "gallery/pedestrians_768x576_24fps.mp4"}}) {{ sessionId }}'
    for i in range(30)
) + " }"
TWO_MUTATIONS = (
    'mutation { a: cancelPropagateInVideo(input: {sessionId: "$SID"}) { success } '
    'b: cancelPropagateInVideo(input: {sessionId: "$SID"}) { success } }'
)
DEEP_VARIABLES = {"query": "{ serverInfo { device } }", "variables": {"v": json.loads("[" * 40 + "]" * 40)}}
SQUARE = rle.encode(__import__("numpy").ones((720, 1280), bool))
CASES = [
    # -- startSession paths
    ("path traversal", gql(START, {"p": "../../etc/passwd"}), 200, "must not leave the data folder"),
    ("absolute path", gql(START, {"p": "/etc/passwd"}), 200, "must be relative"),
    ("missing gallery video", gql(START, {"p": "gallery/nope.mp4"}), 200, "no video"),
    (
        "not a video folder",
        gql(START, {"p": "posters/pedestrians_768x576_24fps.jpg"}),
        200,
        "not a video of the gallery",
    ),
    ("symlink out of the gallery", gql(START, {"p": "gallery/escape.mp4"}), 200, "no video"),
    ("encoded traversal", gql(START, {"p": "gallery/%2e%2e/x.mp4"}), 200, "not a video of the gallery"),
    # -- sessions
    (
        "unknown session",
        gql(
            ADD_POINTS,
            {
                "i": {
                    "sessionId": "x" * 32,
                    "frameIndex": 0,
                    "objectId": 1,
                    "points": [[0.5, 0.5]],
                    "labels": [1],
                    "clearOldPoints": True,
                }
            },
        ),
        200,
        "Unknown session",
    ),
    (
        "malformed session id",
        gql('mutation { cancelPropagateInVideo(input: {sessionId: ""}) { success } }'),
        200,
        "sessionId must be",
    ),
    # -- addPoints
    ("negative frame", points(frameIndex=-1), 200, "out of range"),
    ("frame past the end", points(frameIndex=10), 200, "frames 0..9"),
    ("point outside [0, 1]", points(points=[[1.5, 0.2]]), 200, "normalised to [0, 1]"),
    ("points/labels mismatch", points(labels=[1, 0]), 200, "same length"),
    ("bad label", points(labels=[7]), 200, "labels must be 1"),
    ("no points", points(points=[], labels=[]), 200, "at least one"),
    ("one coordinate", points(points=[[0.1]]), 200, "each point must be [x, y]"),
    ("negative object id", points(objectId=-1), 200, "objectId must be"),
    ("too many points", points(points=[[0.5, 0.5]] * 65, labels=[1] * 65), 200, "At most 64 points"),
    ("string frame index", points(frameIndex="abc"), 200, "Int cannot represent"),
    ("missing field", gql(ADD_POINTS, {"i": {"frameIndex": 0}}), 200, "sessionId"),
    ("syntax error", gql("{ videos {"), 200, "Syntax Error"),
    ("unknown field", gql("{ nothingHere }"), 200, "Cannot query field"),
    # -- addBox / addMask
    ("inverted box", box(box=[0.6, 0.1, 0.2, 0.5]), 200, "x1 > x0"),
    ("short box", box(box=[0.1, 0.1, 0.2]), 200, "box must be [x0, y0, x1, y1]"),
    (
        "mask of the wrong size",
        mask({"size": [10, 10], "counts": rle.encode(__import__("numpy").ones((10, 10), bool))["counts"]}),
        200,
        "but the video is [720, 1280]",
    ),
    ("malformed RLE", mask({"size": [720, 1280], "counts": "!!"}), 200, "not a valid COCO RLE"),
    ("row-major RLE", mask({**SQUARE, "order": "C"}), 200, 'order must be "F"'),
    # -- uploads
    ("empty upload", upload("empty_0_bytes.mp4"), 200, "empty"),
    ("text named .mp4", upload("text_file_named_clip/clip.mp4"), 200, "not a readable video"),
    ("audio only", upload("audio_only_no_video_stream.mp4"), 200, "no video stream"),
    ("still image", upload("png_image_renamed.mp4"), 200, "still image"),
    ("decompression bomb", upload("absurd_dimensions_16000x16000_header.mp4"), 200, "16000x16000"),
    ("truncated, moov first", upload("truncated_first_half_moov_first.mp4"), 200, "truncated"),
    ("truncated, moov last", upload("truncated_first_half_moov_last.mp4"), 200, "not a readable video"),
    ("10 minutes", upload("long_10min_64x36_24fps.mp4"), 200, "the limit is 10 s"),
    ("start after the end", upload("one_frame_640x360.mp4", start=5.0), 200, "after the end"),
    ("negative start", upload("one_frame_640x360.mp4", start=-1.0), 200, ">= 0"),
    ("not multipart", gql('mutation { uploadVideo(file: "x") { path } }'), 200, "multipart upload"),
    # -- REST
    ("propagate: not JSON", rest("POST", "/propagate_in_video", raw=b"{nope"), 400, "must be JSON"),
    (
        "propagate: unknown session",
        rest("POST", "/propagate_in_video", {"session_id": "y" * 32}),
        404,
        "Unknown session",
    ),
    (
        "propagate: frame out of range",
        rest("POST", "/propagate_in_video", {"session_id": "$SID", "start_frame_index": 99}),
        400,
        "out of range",
    ),
    (
        "propagate: bad direction",
        rest("POST", "/propagate_in_video", {"session_id": "$SID", "direction": "sideways"}),
        400,
        "direction must be",
    ),
    (
        "propagate: bad max_frames",
        rest("POST", "/propagate_in_video", {"session_id": "$SID", "max_frames": 0}),
        400,
        "max_frames",
    ),
    (
        "propagate: no prompts yet",
        rest("POST", "/propagate_in_video", {"session_id": "$SID"}),
        400,
        "Nothing to track",
    ),
    ("propagate: GET", rest("GET", "/propagate_in_video"), 405, "not allowed"),
    ("static traversal", rest("GET", "/gallery/../../etc/passwd"), 404, "Not found"),
    ("static encoded traversal", rest("GET", "/gallery/%2e%2e/%2e%2e/etc/passwd"), 404, "Not found"),
    ("missing upload file", rest("GET", "/uploads/0123.mp4"), 404, "Not found"),
    ("missing poster", rest("GET", "/posters/none.jpg"), 404, "Not found"),
    ("upload scratch folder", rest("GET", "/uploads/.incoming/x"), 404, "Not found"),
    ("export: unknown session", rest("GET", "/export_masks?session_id=z" + "z" * 31), 404, "Unknown session"),
    ("export: bad format", rest("GET", "/export_masks?session_id=$SID&format=pdf"), 400, "format must be"),
    ("graphql: not JSON", rest("POST", "/graphql", raw=b"garbage"), 400, ""),
    ("unknown asset", rest("GET", "/assets/app.js"), 404, "Not found"),
    # -- names longer than a file system takes (ENAMETOOLONG was a 500)
    ("300-byte name: gallery", rest("GET", "/gallery/" + LONG_NAME), 404, "Not found"),
    ("300-byte name: posters", rest("GET", "/posters/" + LONG_NAME[:-4] + ".jpg"), 404, "Not found"),
    ("300-byte name: uploads", rest("GET", "/uploads/" + LONG_NAME), 404, "Not found"),
    ("300-byte name: startSession", gql(START, {"p": "gallery/" + LONG_NAME}), 200, "longer than 255 bytes"),
    # -- damaged media: a clear INVALID_MEDIA in the user's terms (no paths, no FFmpeg internals)
    ("truncated gallery video", gql(START, {"p": "gallery/truncated.mp4"}), 200, "only 15 of its 18 frames"),
    # -- JSON bodies that are not a GraphQL request (each was a 500)
    ("body: a number", post(b"42"), 400, "must be a JSON object"),
    ("body: a string", post(b'"q"'), 400, "must be a JSON object"),
    ("body: null", post(b"null"), 400, "must be a JSON object"),
    ("body: a batch list", post(b"[]"), 400, "must be a JSON object"),
    ("body: invalid UTF-8", post(b'{"query": "\xff\xfe{ videos }"}'), 400, "not valid UTF-8"),
    ("body: nested 100,000 deep", post(b"[" * 100_000 + b"]" * 100_000), 400, "nested too deeply"),
    ("body: empty", post(b""), 400, "missing or empty"),
    ("body: query not a string", post_json({"query": 5}), 400, "'query'"),
    ("body: variables a list", post_json({"query": "{ videos { edges { cursor } } }", "variables": [1]}), 400,
     "'variables' must be an object"),  # fmt: skip
    ("variables nested 40 deep", post_json(DEEP_VARIABLES), 400, "nested more than"),
    ("body over the JSON limit (10^6 points)", post(b'{"query": "' + b"x" * (5 << 20) + b'"}'), 413,
     "larger than the limit"),  # fmt: skip
    ("20,000 points", points(points=[[0.5, 0.5]] * 20_000, labels=[1] * 20_000), 400, "more than 10000 values"),
    # -- query cost: tokens, aliases, one mutation per request
    ("50,000 aliased serverInfo", gql(MANY_ALIASES), 200, "token"),
    ("20 aliases", gql(TWENTY_ALIASES), 200, "aliases"),
    ("two mutations in one request", gql(TWO_MUTATIONS.replace("$SID", "$SID")), 200, "one mutation"),
    ("30 aliased startSession", gql(ALIASED_STARTS), 200, "one mutation"),
    # -- malformed multipart requests (each was a 500 inside the upload parser)
    ("multipart: map is a list", multipart(UPLOAD_OPS, "[1]"), 400, "'map' field must be an object"),
    ("multipart: operations is a number", multipart("5", '{"0": ["variables.file"]}'), 400, "must be a JSON object"),
    ("multipart: deep file path", multipart(UPLOAD_OPS, '{"0": ["variables.file.a.b.c"]}'), 400,
     "does not name a variable"),  # fmt: skip
    ("multipart: unknown variable", multipart(UPLOAD_OPS, '{"0": ["variables.nope"]}'), 400,
     "does not name a variable"),  # fmt: skip
    ("multipart: operations not JSON", multipart("{nope", '{"0": ["variables.file"]}'), 400, "not valid JSON"),
    ("multipart: map names a missing part", multipart(UPLOAD_OPS, '{"0": ["variables.file"]}', with_file=False),
     400, "missing from the request"),  # fmt: skip
    ("multipart: no operations", multipart("", "{}"), 400, "missing or empty"),
    # -- headers
    ("X-Client-Id malformed", post_json({"query": "{ videos { edges { cursor } } }"}, {"X-Client-Id": "a b"}), 400,
     "X-Client-Id must be"),  # fmt: skip
    ("X-Client-Id too short", post_json({"query": "{ videos { edges { cursor } } }"}, {"X-Client-Id": "abc"}), 400,
     "X-Client-Id must be"),  # fmt: skip
]


@pytest.fixture(scope="module")
def ctx(server, client, short_clip, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "x.mp4"
    shutil.copy(UPLOADS / "quicktime_h264_640x360.mov", outside)
    link = server.data_path / "gallery" / "escape.mp4"
    if not link.exists():
        os.symlink(outside, link)
    shutil.copy(UPLOADS / "truncated_first_half_moov_first.mp4", server.data_path / "gallery" / "truncated.mp4")
    sid = client.start_session(short_clip["path"])
    bystander = client.start_session(short_clip["path"])
    client.add_points(bystander, 0, 1, [[0.5, 0.5]], [1])
    yield Ctx(server.url, client, sid, server.data_path), bystander
    client.close_session(sid)
    client.close_session(bystander)


def test_table_is_large_enough():
    assert len(CASES) >= 80


@pytest.mark.parametrize("name, call, status, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(ctx, server, client, name, call, status, words):
    context, bystander = ctx
    answer = call(context)
    assert answer.status == status, answer
    assert answer.message, f"{name}: no error message"
    assert words in answer.message, answer.message
    assert "Traceback" not in answer.message and "Internal server error" not in answer.message
    # In the user's terms: never a server path or a library's internals.
    assert str(server.data_path) not in answer.message and "avcodec" not in answer.message
    assert "Errno" not in answer.message
    # The server is up and another user's session still works.
    assert server.healthy()["status"] == "ok"
    assert client.add_points(bystander, 1, 1, [[0.4, 0.6]], [1])["frameIndex"] == 1


def test_nothing_half_written_after_bad_uploads(ctx, server):
    incoming = server.data_path / "uploads" / ".incoming"
    assert list(incoming.iterdir()) == []
    assert "Traceback" not in server.log_text()


def test_client_hanging_up_mid_upload_leaves_nothing(ctx, server, client):
    import socket
    import time

    context, bystander = ctx
    boundary = "cut"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        '{"query": "mutation($f: Upload!) { uploadVideo(file: $f) { path } }", "variables": {"f": null}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        '{"0": ["variables.f"]}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode() + (UPLOADS / "quicktime_h264_640x360.mov").read_bytes()[:60000]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 5000000\r\n\r\n".encode()
            + head
        )
        time.sleep(0.5)  # the server is now reading the body ... and the client goes away
    incoming = server.data_path / "uploads" / ".incoming"
    deadline = time.monotonic() + 20
    while list(incoming.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(incoming.iterdir()) == []
    assert server.healthy()["status"] == "ok"
    assert client.add_points(bystander, 2, 1, [[0.5, 0.5]], [1])["frameIndex"] == 2
