"""A server-issued browser id for clients that send no `X-Client-Id` (Meta's official page).

Without it every such client shared one anonymous upload list. The id lives in a signed,
HttpOnly cookie: the page's scripts cannot read it, and a forged or edited value fails the
signature and is replaced by a new id. It is SameSite=Lax (other sites cannot send it with their
requests), except for a page on an https origin listed in CORS_ORIGINS: that page may be on
another site (app.example.org calling api.example.net), where a browser sends only a
SameSite=None cookie, which must be Secure. Other sites still cannot act with it: a state-changing
request from an unlisted origin is refused before it is read (guards.check_origin). The signing key comes from IDENTITY_KEY, or is generated once and kept in
DATA_PATH/.identity_key, so ids survive restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

COOKIE = "sam2_client"
MAX_AGE_SEC = 365 * 24 * 3600
_KEY_FILE = ".identity_key"


def cookie_policy(
    origin: str | None, cors_origins: tuple[str, ...], secure_request: bool
) -> tuple[str, bool]:
    """(SameSite, Secure) for the id cookie of a request from `origin` (its Origin header)."""
    if (
        origin
        and origin.lower().startswith("https://")
        and origin.lower() in {o.lower() for o in cors_origins}
    ):
        return "None", True
    return "Lax", secure_request


def load_key(configured: str, data_path: Path) -> bytes:
    """IDENTITY_KEY when set, else the key kept under DATA_PATH (made on first start)."""
    if configured:
        return configured.encode()
    path = data_path / _KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    try:
        data_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the key is a secret
        with os.fdopen(fd, "w") as file:
            file.write(key.hex())
    except OSError as exc:  # read-only data: ids last until the next restart
        log.warning("cannot keep the identity key in %s (%s); browser ids reset on restart", path, exc)
    return key


class Identities:
    """Issues and checks `<id>.<signature>` cookie values; ids look like X-Client-Id values."""

    def __init__(self, key: bytes):
        self._key = key

    def issue(self) -> tuple[str, str]:
        """A new (client id, cookie value)."""
        client = "c-" + secrets.token_urlsafe(18)  # 26 characters of A-Z a-z 0-9 _ -
        return client, f"{client}.{self._sign(client)}"

    def verify(self, cookie: str | None) -> str | None:
        """The client id in a genuine cookie value, else None."""
        if not cookie or cookie.count(".") != 1:
            return None
        client, signature = cookie.split(".")
        return client if hmac.compare_digest(signature, self._sign(client)) else None

    def _sign(self, client: str) -> str:
        digest = hmac.new(self._key, client.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()
