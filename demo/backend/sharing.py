"""Share links: a token that opens a session's work in another browser, editable or view-only.

A client names a session by its id or by a link's token (`share.<random>`), wherever a session
id is asked for; a view-only token is refused for anything that changes the work. A revoked
token stops working at once, on every worker: each request checks it in the database (one
indexed read).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from .errors import BadInput, DemoError, NotFound
from .storage.database import ShareLink, WorkDatabase

PREFIX = "share."  # "." is not in a session id's alphabet (URL-safe base64)
MODES = ("edit", "view")


def route_key(session_id: str) -> str:
    """What a page sends in `X-Route-Key` on every request of a session, so a proxy in front
    of several workers keeps them on one worker: the same for the owner and every link's
    holder, and it reveals neither the session id nor a token."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:20]


class ReadOnly(DemoError):
    code = "READ_ONLY"
    http_status = 403


@dataclass(frozen=True)
class SessionAccess:
    session_id: str
    mode: str  # "owner" (the session id itself), "edit" or "view" (a link)

    @property
    def via_link(self) -> bool:
        return self.mode != "owner"


class Sharing:
    def __init__(self, db: WorkDatabase):
        self.db = db

    def resolve(self, handle: object, edit: bool) -> SessionAccess:
        """What a session id or token gives access to; `edit`: the request changes the work."""
        if not isinstance(handle, str) or not handle.startswith(PREFIX):
            return SessionAccess(handle, "owner")  # type: ignore[arg-type]  (the store validates it)
        link = self.db.share(handle) if 8 <= len(handle) <= 128 else None
        if link is None:
            raise NotFound("This share link does not exist; ask for a new one.")
        if link.revoked:
            raise NotFound("This share link was revoked by the owner of the work; ask for a new one.")
        if edit and link.mode == "view":
            raise ReadOnly("This link is view-only: you can play, apply effects and export, but not edit.")
        return SessionAccess(link.session_id, link.mode)

    def create(self, session_id: str, mode: object, created_by: str) -> ShareLink:
        if mode not in MODES:
            raise BadInput(f"mode must be one of {', '.join(MODES)}, got {mode!r}.")
        token = PREFIX + secrets.token_urlsafe(24)
        self.db.create_share(token, session_id, str(mode), created_by)
        return ShareLink(token, session_id, str(mode), False)

    def revoke(self, session_id: str, token: object) -> bool:
        if not isinstance(token, str):
            raise BadInput("token must be a share link's token.")
        return self.db.revoke_share(token, session_id)

    def links(self, session_id: str) -> list[ShareLink]:
        return self.db.shares_of(session_id)
