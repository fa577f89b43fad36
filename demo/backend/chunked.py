"""Checks the framing of a chunked request body as its bytes arrive (RFC 9112 section 7.1).

The worker's event loop feeds it what it buffers, so a malformed body is refused with 400 the
moment its first bad byte arrives, and a well-formed one is handed on the moment its last chunk
and trailer section are complete (a trailer field used to leave the buffering waiting for a
"0\\r\\n\\r\\n" that never came). The data itself is not kept here: gunicorn parses it again
when the request thread reads the body.
"""

from __future__ import annotations

import re

# chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_EXTENSIONS = re.compile(rb"(?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?)*")
_TRAILER_FIELD = re.compile(rb"(" + _TOKEN + rb"):[ \t]*[\t -~\x80-\xff]*")
_MAX_SIZE_DIGITS = 15  # 2**60 bytes: larger sizes are an overflow attempt, not a body
MAX_LINE = 4096  # a chunk-size line (with extensions) or one trailer line
MAX_TRAILERS = 16 * 1024  # the whole trailer section
# Fields a trailer must not carry (RFC 9110 section 6.5.1): framing, routing, authentication.
_FORBIDDEN_TRAILERS = {
    b"content-length", b"transfer-encoding", b"host", b"content-type", b"content-encoding",
    b"authorization", b"cookie", b"set-cookie", b"trailer", b"te", b"expect",
}  # fmt: skip


class ChunkedFramingError(ValueError):
    """The body is not well-formed chunked encoding; the message says where."""


class ChunkedFraming:
    """Incremental checker: `feed(data)` returns the offset just past the body's end (in all the
    bytes fed so far) once it is complete, else None; raises ChunkedFramingError when malformed."""

    def __init__(self) -> None:
        self._line = bytearray()  # an unfinished size or trailer line
        self._remaining = 0  # data bytes of the current chunk still to come
        self._state = "size"  # size | data | data_end | trailers | done
        self._trailer_bytes = 0
        self._offset = 0  # bytes fed so far
        self.end: int | None = None

    def feed(self, data: bytes) -> int | None:
        i, n = 0, len(data)
        while i < n and self._state != "done":
            if self._state == "data":
                take = min(self._remaining, n - i)
                self._remaining -= take
                i += take
                if self._remaining == 0:
                    self._state = "data_end"
                continue
            if self._state == "data_end":
                need = 2 - len(self._line)
                self._line += data[i : i + need]
                i += min(need, n - i)
                if len(self._line) < 2:
                    continue
                if self._line != b"\r\n":
                    raise ChunkedFramingError("a chunk holds more data than its size says (no CRLF after it)")
                self._line.clear()
                self._state = "size"
                continue
            # size or trailers: collect one CRLF-terminated line.
            lf = data.find(b"\n", i)
            stop = n if lf < 0 else lf + 1
            self._line += data[i:stop]
            i = stop
            if len(self._line) > MAX_LINE:
                raise ChunkedFramingError(f"a chunk-size or trailer line is longer than {MAX_LINE} bytes")
            if lf < 0:
                continue
            if not self._line.endswith(b"\r\n"):
                raise ChunkedFramingError("a line of the chunked body ends with a bare LF")
            line = bytes(self._line[:-2])
            self._line.clear()
            if self._state == "size":
                self._size_line(line)
            else:
                self._trailer_line(line)
        self._offset += i
        if self._state == "done" and self.end is None:
            self.end = self._offset
        return self.end

    def _size_line(self, line: bytes) -> None:
        size, _, extensions = line.partition(b";")
        if extensions or line.endswith(b";"):
            if b"\r" in extensions or not _EXTENSIONS.fullmatch(b";" + extensions):
                raise ChunkedFramingError(f"malformed chunk extension {line[:60]!r}")
            size = size.rstrip(b" \t")
        if not size or not all(c in b"0123456789abcdefABCDEF" for c in size):
            raise ChunkedFramingError(f"malformed chunk size {size[:40]!r} (expected hexadecimal digits)")
        if len(size.lstrip(b"0")) > _MAX_SIZE_DIGITS:
            raise ChunkedFramingError("chunk size too large")
        self._remaining = int(size, 16)
        self._state = "data" if self._remaining else "trailers"

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._state = "done"
            return
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > MAX_TRAILERS:
            raise ChunkedFramingError(f"the trailer section is longer than {MAX_TRAILERS} bytes")
        match = _TRAILER_FIELD.fullmatch(line)
        if match is None:
            raise ChunkedFramingError(f"malformed trailer field {line[:60]!r}")
        if match.group(1).lower() in _FORBIDDEN_TRAILERS:
            raise ChunkedFramingError(f"the trailer field {match.group(1).decode()} is not allowed")
