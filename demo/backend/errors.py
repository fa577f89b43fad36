"""Errors the server answers with: a message meant for the user, a stable code, an HTTP status.

Any other exception is a bug; the transports log it and answer a generic "internal error".
"""

from __future__ import annotations


class DemoError(Exception):
    """Base class: `str(error)` is shown to the user as is."""

    code = "BAD_REQUEST"
    http_status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict:
        return {"error": {"message": self.message, "code": self.code}}


class BadInput(DemoError):
    """The request itself is malformed or out of range."""


class NotFound(DemoError):
    code = "NOT_FOUND"
    http_status = 404


class SessionExpired(DemoError):
    """The session existed but was closed, evicted or timed out."""

    code = "SESSION_EXPIRED"
    http_status = 410


class LimitExceeded(DemoError):
    """A configured limit (upload size, duration, objects, sessions) was hit."""

    code = "LIMIT_EXCEEDED"
    http_status = 413


class InvalidMedia(DemoError):
    """An uploaded file is not a video the server can use."""

    code = "INVALID_MEDIA"
    http_status = 400


class Busy(DemoError):
    """The session or the server is busy; retrying later can succeed."""

    code = "BUSY"
    http_status = 503


class ShuttingDown(DemoError):
    """The server is stopping (SIGTERM): streams end, new ones are refused; a restart serves again."""

    code = "SHUTTING_DOWN"
    http_status = 503
