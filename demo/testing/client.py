"""A small Python client of the demo API (used by the tests and the tools in `tools/`).

It speaks the wire formats exactly as a browser does: GraphQL over JSON, the GraphQL multipart
request spec for uploads, and the `multipart/x-savi-stream` propagation stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ADD_POINTS = """
mutation AddPoints($input: AddPointsInput!) {
  addPoints(input: $input) { frameIndex rleMaskList { objectId rleMask { size counts order } } }
}"""
START_SESSION = "mutation($input: StartSessionInput!) { startSession(input: $input) { sessionId routeKey } }"
CLOSE_SESSION = "mutation($input: CloseSessionInput!) { closeSession(input: $input) { success } }"
CANCEL = (
    "mutation($input: CancelPropagateInVideoInput!) { cancelPropagateInVideo(input: $input) { success } }"
)
UPLOAD = """
mutation($file: Upload!, $start: Float, $duration: Float) {
  uploadVideo(file: $file, startTimeSec: $start, durationTimeSec: $duration) {
    id path posterPath url posterUrl width height fps numFrames durationSec
  }
}"""


class GraphQLError(RuntimeError):
    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(e.get("message", "?") for e in errors))
        self.errors = errors
        self.code = (errors[0].get("extensions") or {}).get("code") if errors else None


@dataclass
class StreamPart:
    headers: dict[str, str]
    body: dict


class DemoClient:
    def __init__(self, base_url: str, timeout: float = 120.0, client_id: str | None = None):
        """client_id: sent as `X-Client-Id` (the browser's id; uploads are listed to it only)."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        if client_id:
            self.http.headers["X-Client-Id"] = client_id
        self.served_by: str | None = None  # X-Served-By of the last answer: which worker

    def use_route_key(self, key: str | None) -> None:
        """Send `X-Route-Key: key` on every request from now on, as the page does for its
        session (start_session does this itself), so a proxy keeps them on one worker."""
        if key:
            self.http.headers["X-Route-Key"] = key
        else:
            self.http.headers.pop("X-Route-Key", None)

    def _post(self, url: str, **kwargs) -> requests.Response:
        try:
            return self.http.post(url, **kwargs)
        except requests.ConnectionError as exc:
            if "RemoteDisconnected" not in repr(exc):
                raise
            # As browsers do: a kept-alive connection that the other end closed before a byte of
            # answer (a proxy whose worker died meanwhile) is retried once on a new connection.
            return self.http.post(url, **kwargs)

    def graphql_raw(self, query: str, variables: dict | None = None) -> dict:
        response = self._post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=self.timeout,
        )
        self.served_by = response.headers.get("X-Served-By")
        return response.json()

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """The `data` of a successful operation; raises GraphQLError otherwise."""
        result = self.graphql_raw(query, variables)
        if result.get("errors"):
            raise GraphQLError(result["errors"])
        return result["data"]

    def upload_raw(
        self,
        file: Path | bytes,
        start: float | None = None,
        duration: float | None = None,
        name: str = "video.mp4",
    ) -> dict:
        operations = {"query": UPLOAD, "variables": {"file": None, "start": start, "duration": duration}}
        content = file.read_bytes() if isinstance(file, Path) else file
        response = self.http.post(
            f"{self.base_url}/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
            files={"0": (name, content, "video/mp4")},
            timeout=self.timeout,
        )
        try:
            return response.json()
        except ValueError:
            return {"errors": [{"message": f"HTTP {response.status_code}: {response.text[:200]}"}]}

    def upload(self, file: Path | bytes, start: float | None = None, duration: float | None = None) -> dict:
        result = self.upload_raw(file, start, duration)
        if result.get("errors"):
            raise GraphQLError(result["errors"])
        return result["data"]["uploadVideo"]

    def start_session(self, path: str) -> str:
        """A new session's id; its route key goes on this client's requests from now on."""
        self.use_route_key(None)  # a new session is placed by load, not by the last one's key
        started = self.graphql(START_SESSION, {"input": {"path": path}})["startSession"]
        self.use_route_key(started["routeKey"])
        return started["sessionId"]

    def close_session(self, session_id: str) -> bool:
        return self.graphql(CLOSE_SESSION, {"input": {"sessionId": session_id}})["closeSession"]["success"]

    def add_points(
        self, session_id: str, frame: int, obj: int, points, labels, clear_old_points=True
    ) -> dict:
        variables = {
            "input": {
                "sessionId": session_id,
                "frameIndex": frame,
                "objectId": obj,
                "points": points,
                "labels": labels,
                "clearOldPoints": clear_old_points,
            }
        }
        return self.graphql(ADD_POINTS, variables)["addPoints"]

    def cancel(self, session_id: str) -> bool:
        return self.graphql(CANCEL, {"input": {"sessionId": session_id}})["cancelPropagateInVideo"]["success"]

    def session_masks(self, session_id: str) -> dict[tuple[int, int], str]:
        """Every mask the session holds, as (frame, object id) -> RLE counts (via the COCO export)."""
        response = self.http.get(
            f"{self.base_url}/export_masks",
            params={"format": "coco", "session_id": session_id},
            timeout=self.timeout,
        )
        self.served_by = response.headers.get("X-Served-By")
        body = response.json()
        if not response.ok:
            raise GraphQLError([body.get("error", {"message": response.text})])
        return {(a["frame_index"], a["object_id"]): a["segmentation"]["counts"] for a in body["annotations"]}

    def propagate(self, session_id: str, start_frame_index: int = 0, **extra) -> requests.Response:
        """Opens the stream; iterate it with `iter_parts(response)`."""
        body = {"session_id": session_id, "start_frame_index": start_frame_index, **extra}
        return self._post(f"{self.base_url}/propagate_in_video", json=body, stream=True, timeout=self.timeout)


END_TYPE = "application/vnd.sam2-demo.end+json"
ERROR_TYPE = "application/vnd.sam2-demo.error+json"


def iter_parts(response: requests.Response, boundary: str = "frame") -> Iterator[StreamPart]:
    """Parse a multipart/x-savi-stream body part by part, trusting Content-Length.

    Yields the frame parts and a final error part if there is one; returns after the end part
    (not yielded). Raises ValueError on anything malformed or when the stream stops without
    its end or error part (cut short).
    """
    raw = response.raw
    opening = f"--{boundary}".encode()

    def readline() -> bytes:
        line = raw.readline()
        if not line:
            raise ValueError("stream ended without its end part")
        return line.rstrip(b"\r\n")

    while True:
        line = readline()
        while line == b"":  # blank lines between parts are allowed
            line = readline()
        if line != opening:
            raise ValueError(f"expected a boundary, got {line[:80]!r}")
        headers = {}
        while line := readline():
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        body = raw.read(length)
        if len(body) != length or raw.read(2) != b"\r\n":
            raise ValueError("part body shorter than its Content-Length")
        kind = headers.get("content-type", "")
        if kind == END_TYPE:
            return
        yield StreamPart(headers=headers, body=json.loads(body))
        if kind == ERROR_TYPE:
            if raw.read(1):
                raise ValueError("bytes after the error part")
            return
