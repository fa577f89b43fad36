"""A gunicorn worker that slow or stalled clients cannot starve: gthread plus request buffering.

gunicorn's gthread worker hands a connection to a request thread as soon as its first byte
arrives; the thread then blocks on the socket until the whole request head (and later the body)
has come in. Forty clients trickling a byte every two seconds hold forty threads, and a client
that stops reading a response holds its thread (and, for a stream, a propagation slot) forever.

This worker does what a buffering front proxy (nginx) would do, inside the event loop that
gthread already runs:

- The request head, and a body up to `_BUFFERED_BODY` bytes, are read by the event loop with
  non-blocking reads. A thread is only taken once they are all there, so slow clients wait in
  the event loop's buffers, never in a thread. A head that has not arrived within
  `CLIENT_HEADER_TIMEOUT_SEC`, or a body slower than `CLIENT_BODY_TIMEOUT_SEC` plus one second
  per `CLIENT_MIN_UPLOAD_KBPS`, is answered 408 and closed.
- The body's framing is checked as it arrives: a chunked body whose framing is malformed, or a
  head with both Content-Length and Transfer-Encoding (the request-smuggling shape), is
  answered 400 at once; a chunked body is complete once its last chunk and trailer section are
  (see chunked.py). A request head over `_MAX_HEAD` bytes is answered 431.
- A larger body (an upload) is read by the request thread, under the same deadline
  (`_DeadlineSocket`), so a stalled upload frees its thread too.
- Every response write may block for `CLIENT_WRITE_TIMEOUT_SEC` at most; then the connection is
  closed and the response iterator is closed with it (a propagation stream stops and frees its
  slot and session).
- A connection closed after its response lingers to drain what the client still sends (so the
  kernel does not reset the response away), for `_LINGER_SEC` at most. gthread does that with
  blocking reads on the event loop's own thread, so one client that kept its socket open after
  a "Connection: close" answer stalled every other client for two seconds; here the event loop
  drains it with non-blocking reads like any other socket.

- SIGTERM drains first (see draining.py): running tracking streams end with an error part,
  `/healthy` answers 503 "draining", new streams are refused; once no stream is left (after
  `_DRAIN_MIN_SEC` at least, `_DRAIN_MAX_SEC` at most) the worker stops accepting and finishes
  what is in flight, as gthread does. A second SIGTERM skips the wait.

Relies on gthread's structure (gunicorn 27: `accept`, `on_client_socket_readable`,
`murder_pending`, `handle_request`, `TConn.close(graceful=True)` from `finish_request`); pyproject pins the major version. TLS listeners fall back to
plain gthread behaviour (terminate TLS in a proxy instead).
"""

from __future__ import annotations

import errno
import json
import re
import resource
import selectors
import signal
import socket
import threading
import time
from dataclasses import dataclass
from functools import partial

from gunicorn import http
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from . import draining
from .chunked import ChunkedFraming, ChunkedFramingError
from .settings import ClientTimeouts

_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024  # bytes of request line + headers; gunicorn's own field limits apply too
_BUFFERED_BODY = 1 << 20  # bodies up to this are read by the event loop; larger ones by the thread
_RECV = 64 * 1024
_LINGER_SEC = 2.0  # a closed connection's unread request bytes are drained this long at most
_LINGER_BYTES = 64 * 1024  # ... and up to this many
_DRAIN_MIN_SEC = 1.0  # after SIGTERM, /healthy says "draining" this long at least (probes see it)
_DRAIN_MAX_SEC = 5.0  # ... and streams get this long to end, within gunicorn's graceful timeout
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d{1,18})[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_CONTENT_LENGTH_NAME = re.compile(rb"^content-length[ \t]*:", re.IGNORECASE | re.MULTILINE)
_TRANSFER_ENCODING = re.compile(rb"^transfer-encoding[ \t]*:([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue[ \t]*\r\n", re.IGNORECASE | re.MULTILINE)


@dataclass
class _Incoming:
    """A request being buffered by the event loop."""

    data: bytearray
    deadline: float  # monotonic seconds
    body_started: float | None = None  # when the head was complete
    wanted: int = 0  # body bytes to buffer (Content-Length framing)
    framing: ChunkedFraming | None = None  # chunked framing, checked as it arrives
    fed: int = 0  # body bytes given to `framing` so far

    def start_body(self, head: bytes) -> str | None:
        """Read the body's framing from the head; a message when the head must be refused."""
        codings = [c.strip().lower() for line in _TRANSFER_ENCODING.findall(head) for c in line.split(b",")]
        length = _CONTENT_LENGTH.search(head)
        if codings and _CONTENT_LENGTH_NAME.search(head):
            # Two framings: a proxy in front may pick the other one (request smuggling).
            return "A request must not carry both Content-Length and Transfer-Encoding."
        if codings and codings[-1] == b"chunked":
            self.framing = ChunkedFraming()
        elif not codings:
            self.wanted = int(length.group(1)) if length else 0
        # Another transfer coding: nothing to wait for; gunicorn answers it with 400.
        return None

    def body_ready(self, head_end: int) -> bool:
        """Raises ChunkedFramingError for a malformed chunked body."""
        start = head_end + len(_HEAD_END)
        body = len(self.data) - start
        if self.framing is not None:
            new = bytes(self.data[start + self.fed :])
            self.fed += len(new)
            return self.framing.feed(new) is not None or body >= _BUFFERED_BODY
        return body >= min(self.wanted, _BUFFERED_BODY)


class _DeadlineSocket:
    """The request thread's view of the socket while it reads a large body: a total deadline.

    Reads fail with TimeoutError once `deadline` (extended by each byte at the minimum rate)
    has passed; the application answers that with 408.
    """

    def __init__(self, sock: socket.socket, timeouts: ClientTimeouts, seconds: float):
        self.sock = sock
        self.timeouts = timeouts
        self.deadline = time.monotonic() + seconds

    def recv(self, size: int) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request body arrived too slowly")
        self.sock.settimeout(min(remaining, self.timeouts.write_sec))
        try:
            data = self.sock.recv(size)
        finally:
            self.sock.settimeout(self.timeouts.write_sec)
        self.deadline += len(data) / self.timeouts.min_upload_bytes_per_sec
        return data

    def __getattr__(self, name):
        return getattr(self.sock, name)


def _answer(status: str, message: str, code: str) -> bytes:
    body = json.dumps({"error": {"message": message, "code": code}}).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class _Conn(TConn):
    """A connection whose graceful close is left to the worker's event loop, which never blocks."""

    def __init__(self, worker: BufferingThreadWorker, *args) -> None:
        super().__init__(*args)
        self.worker = worker

    def close(self, graceful: bool = False) -> None:
        if graceful:
            self.worker.linger(self.sock)
        else:
            super().close()


@dataclass
class _Lingering:
    deadline: float
    drained: int = 0


class BufferingThreadWorker(ThreadWorker):
    def init_process(self) -> None:
        self.timeouts = ClientTimeouts.from_env()
        self.incoming: dict[TConn, _Incoming] = {}
        self.lingering: dict[socket.socket, _Lingering] = {}
        _raise_open_files_limit(self.cfg.worker_connections + 256)
        super().init_process()

    # -- shutdown: drain, then gthread's graceful stop ------------------------------------------

    def handle_exit(self, sig, frame) -> None:
        if getattr(self, "_draining", False) or not self.alive:
            return super().handle_exit(sig, frame)  # a second SIGTERM: stop now
        self._draining = True
        # Not in the signal handler: the hooks take locks that the interrupted code may hold.
        threading.Thread(target=self._drain, name="drain", daemon=True).start()
        return None

    def _drain(self) -> None:
        started = time.monotonic()
        draining.begin()
        while True:
            waited = time.monotonic() - started
            if waited >= _DRAIN_MAX_SEC or (waited >= _DRAIN_MIN_SEC and not draining.busy()):
                break
            time.sleep(0.05)
        self.log.info("drained in %.1f s; stopping", time.monotonic() - started)
        super().handle_exit(signal.SIGTERM, None)

    # -- the event loop: accept and buffer --------------------------------------------------

    def accept(self, listener) -> None:
        if self.cfg.is_ssl:
            return super().accept(listener)
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return None
        self.nr_conns += 1
        self._buffer(_Conn(self, self.cfg, client_sock, client_addr, listener.getsockname()))
        return None

    def on_client_socket_readable(self, conn, client) -> None:
        """A kept-alive connection sends its next request: buffer that one too."""
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._buffer(conn)
        return None

    def _buffer(self, conn: TConn) -> None:
        conn.sock.setblocking(False)
        self.incoming[conn] = _Incoming(bytearray(), time.monotonic() + self.timeouts.header_sec)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
        # Bytes already waiting (sent with the connection) are read on the next loop turn.

    def _on_readable(self, conn: TConn, sock) -> None:
        pending = self.incoming.get(conn)
        if pending is None:
            return
        chunk = _recv_now(sock)
        if chunk is None:
            return
        if not chunk:  # the client went away
            self._drop(conn)
            return
        pending.data += chunk
        head_end = pending.data.find(_HEAD_END)
        if head_end < 0:
            if len(pending.data) > _MAX_HEAD:
                self._refuse(conn, "431 Request Header Fields Too Large", "The request head is too large.",
                             "BAD_REQUEST")  # fmt: skip
            return
        now = time.monotonic()
        if pending.body_started is None:
            if head_end > _MAX_HEAD:
                self._refuse(conn, "431 Request Header Fields Too Large", "The request head is too large.",
                             "BAD_REQUEST")  # fmt: skip
                return
            pending.body_started = now
            pending.deadline = now + self.timeouts.body_sec
            # A client that waits for "100 Continue" before its body gets it from here, and the
            # header goes, so that gunicorn does not send it a second time.
            head = bytes(pending.data[: head_end + 2])
            if _EXPECT_CONTINUE.search(head):
                try:
                    sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                except OSError:
                    pass
                trimmed = _EXPECT_CONTINUE.sub(b"", head, count=1)
                pending.data[: head_end + 2] = trimmed
                head_end -= len(head) - len(trimmed)
                head = trimmed
            problem = pending.start_body(head)
            if problem:
                self._refuse(conn, "400 Bad Request", problem, "BAD_REQUEST")
                return
        body = len(pending.data) - head_end - len(_HEAD_END)
        pending.deadline = pending.body_started + self.timeouts.body_sec + body / self.timeouts.min_upload_bytes_per_sec
        try:
            ready = pending.body_ready(head_end)
        except ChunkedFramingError as exc:
            self._refuse(conn, "400 Bad Request", f"Malformed chunked request body: {exc}.", "BAD_REQUEST")
            return
        if ready:
            self._dispatch(conn, pending)

    def _dispatch(self, conn: TConn, pending: _Incoming) -> None:
        """Everything needed is buffered: hand the connection to a request thread."""
        del self.incoming[conn]
        self.poller.unregister(conn.sock)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(pending.data))
        conn.data_ready = True
        self.enqueue_req(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, pending in list(self.incoming.items()):
            if now >= pending.deadline:
                what = "request head" if pending.body_started is None else "request body"
                self._refuse(conn, "408 Request Timeout", f"The {what} arrived too slowly.", "REQUEST_TIMEOUT")
        for sock, lingering in list(self.lingering.items()):
            if now >= lingering.deadline:
                self._end_linger(sock)

    # -- closing after a response: linger in the event loop ----------------------------------

    def linger(self, sock: socket.socket) -> None:
        """Send FIN now; drain and close the socket once the client closes (or time runs out)."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, self._drain_lingering)
        except (OSError, ValueError, KeyError):
            _close_quietly(sock)
            return
        self.lingering[sock] = _Lingering(time.monotonic() + _LINGER_SEC)

    def _drain_lingering(self, sock: socket.socket) -> None:
        lingering = self.lingering.get(sock)
        if lingering is None:
            return
        data = _recv_now(sock)
        if data is None:
            return
        lingering.drained += len(data)
        if not data or lingering.drained >= _LINGER_BYTES:
            self._end_linger(sock)

    def _end_linger(self, sock: socket.socket) -> None:
        self.lingering.pop(sock, None)
        try:
            self.poller.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass
        _close_quietly(sock)

    def _refuse(self, conn: TConn, status: str, message: str, code: str) -> None:
        try:
            conn.sock.send(_answer(status, message, code))  # best effort: non-blocking, small
        except OSError:
            pass
        self._drop(conn)

    def _drop(self, conn: TConn) -> None:
        self.incoming.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.nr_conns -= 1
        conn.close()

    # -- the request thread ------------------------------------------------------------------

    def handle(self, conn):
        # Usually the head is buffered already; a pipelined next request may not be, and its
        # head must not keep the thread either.
        unreader = getattr(conn.parser, "unreader", None)
        if isinstance(unreader, SocketUnreader):
            unreader.sock = _DeadlineSocket(conn.sock, self.timeouts, self.timeouts.header_sec)
        return super().handle(conn)

    def handle_request(self, req, conn):
        # From here on, every read and every write on this socket gives up after a while.
        conn.sock.settimeout(self.timeouts.write_sec)
        unreader = getattr(conn.parser, "unreader", None)
        if isinstance(unreader, SocketUnreader):
            unreader.sock = _DeadlineSocket(conn.sock, self.timeouts, self.timeouts.body_sec)
        try:
            return super().handle_request(req, conn)
        except TimeoutError:
            self.log.warning(
                "closed the connection of %s: it did not read the response for %g s",
                conn.client, self.timeouts.write_sec,
            )  # fmt: skip
            return False
        finally:
            if isinstance(unreader, SocketUnreader):
                unreader.sock = conn.sock


def _recv_now(sock: socket.socket) -> bytes | None:
    """A non-blocking read: None if nothing is there yet, b"" once the peer is gone."""
    try:
        return sock.recv(_RECV)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


def _raise_open_files_limit(wanted: int) -> None:
    """Each connection is a file descriptor; lift the soft limit towards the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
