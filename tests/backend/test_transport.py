"""Request framing at the transport (worker.py, chunked.py): malformed chunked bodies and
smuggling shapes are answered 400 at once, trailers are accepted, and 64 KB heads are served."""

from __future__ import annotations

import json
import socket
import time

import pytest

from demo.backend.chunked import ChunkedFraming, ChunkedFramingError

QUERY = json.dumps({"query": "{ serverInfo { device } }"}).encode()
HEAD = b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def chunked(body: bytes, size: int = 7) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out


def exchange(port: int, request: bytes, timeout: float = 5.0) -> tuple[bytes, float]:
    """Send a raw request; (the whole answer, seconds until it came)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(request)
        s.settimeout(timeout)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data and b"Connection: close" not in data and _complete(data):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return data, time.monotonic() - t0


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


# -- the framing checker alone --------------------------------------------------------------------


def test_framing_finds_the_end_of_a_body_fed_byte_by_byte():
    body = chunked(b'{"query": "x"}', 3) + b"0\r\nX-Checksum: abc\r\n\r\n"
    framing = ChunkedFraming()
    ends = [framing.feed(body[i : i + 1]) for i in range(len(body))]
    assert ends[-1] == len(body) and all(e is None for e in ends[:-1])
    assert ChunkedFraming().feed(b"3;name=value;flag\r\nabc\r\n0\r\n\r\nGET /next") == len(b"3;name=value;flag\r\nabc\r\n0\r\n\r\n")


@pytest.mark.parametrize(
    "body, message",
    [
        (b"-5\r\nabc\r\n0\r\n\r\n", "chunk size"),
        (b"zz\r\nabc\r\n0\r\n\r\n", "chunk size"),
        (b"f" * 20 + b"\r\n", "too large"),
        (b"3\r\nabcdef\r\n0\r\n\r\n", "more data than its size"),
        (b"3;bad ext\r\nabc\r\n0\r\n\r\n", "chunk extension"),
        (b"3;=v\r\nabc\r\n", "chunk extension"),
        (b"3\nabc\r\n", "bare LF"),
        (b"0\r\nno colon here\r\n\r\n", "trailer field"),
        (b"0\r\nContent-Length: 5\r\n\r\n", "not allowed"),
    ],
)
def test_framing_refuses_malformed_bodies(body, message):
    with pytest.raises(ChunkedFramingError, match=message):
        ChunkedFraming().feed(body)


# -- the real server ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"-5\r\nabc\r\n0\r\n\r\n",
        b"zz\r\nabc\r\n0\r\n\r\n",
        b"ffffffffffffffffffffffff\r\nabc\r\n",
        b"3\r\nabcdef\r\n0\r\n\r\n",
        b"3;bad ext\r\nabc\r\n0\r\n\r\n",
    ],
)
@pytest.mark.parametrize("path", [b"/graphql", b"/propagate_in_video"])
def test_malformed_chunked_bodies_get_400_at_once(server, body, path):
    head = HEAD.replace(b"/graphql", path) + b"Transfer-Encoding: chunked\r\n\r\n"
    answer, seconds = exchange(server.port, head + body)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"chunked" in answer and seconds < 2


def test_a_chunked_body_with_a_trailer_is_served_at_once(server):
    body = chunked(QUERY) + b"0\r\nX-Checksum: 1234\r\n\r\n"
    answer, seconds = exchange(server.port, HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b'"device"' in answer and seconds < 2


def test_content_length_with_chunked_is_refused(server):
    body = chunked(QUERY) + b"0\r\n\r\n"
    smuggled = b"GET /healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    request = HEAD + f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + body + smuggled
    answer, seconds = exchange(server.port, request)
    assert answer.startswith(b"HTTP/1.1 400") and b"Content-Length and Transfer-Encoding" in answer
    assert answer.count(b"HTTP/1.1") == 1 and seconds < 2  # the smuggled request never ran


def test_a_malformed_chunk_inside_a_large_body_gets_400(server):
    """Past what the event loop buffers (1 MB), gunicorn's reader finds the fault in the thread."""
    good = b"".join(b"ffff\r\n" + b" " * 0xFFFF + b"\r\n" for _ in range(20))  # 1.3 MB of spaces
    request = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + good + b"zz\r\nabc\r\n0\r\n\r\n"
    answer, seconds = exchange(server.port, request, timeout=10)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert seconds < 5


def test_a_64_kb_request_head_is_served_and_a_larger_one_gets_431(server):
    big = b"X-Big: " + b"a" * 60_000 + b"\r\n"
    head = b"GET /healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n" + big + b"\r\n"
    answer, _ = exchange(server.port, head)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    long_url = b"GET /healthy?" + b"q" * 30_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    assert exchange(server.port, long_url)[0].startswith(b"HTTP/1.1 200")
    too_big = b"GET /healthy HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    assert exchange(server.port, too_big)[0].startswith(b"HTTP/1.1 431")
