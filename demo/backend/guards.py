"""HTTP-level guards, checked before a request reaches GraphQL or the routes.

- `check_host`: the `Host` header names this server (ALLOWED_HOSTS): a page of another site whose
  DNS name was rebound to this server's address is refused (its Host is that site's name).
- `check_origin`: state-changing requests from an origin that is neither the server's own nor
  listed in CORS_ORIGINS are refused before their body is read (CSRF: a "simple" cross-site
  POST, e.g. multipart, needs no preflight, so CORS alone does not stop it).
- `check_socket_origin`: the same for a WebSocket upgrade (a GET, but it changes state).
- `client_id`: the browser's `X-Client-Id` header (uploads are listed to their owner only).
- `check_graphql_body`: a JSON or multipart GraphQL body is well-formed and small in shape
  before Strawberry parses it (its parsers answer some malformed bodies with a 500).
- `security_headers`: what every response carries.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from flask import Request

from .errors import DemoError

CLIENT_ID_HEADER = "X-Client-Id"
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_VARIABLE_VALUES = 10_000  # values in a request's variables (64 points are ~200)
MAX_VARIABLE_DEPTH = 12
_FILE_VARIABLE = re.compile(r"variables\.[A-Za-z_][A-Za-z0-9_]*")


class ForbiddenOrigin(DemoError):
    code = "FORBIDDEN_ORIGIN"
    http_status = 403


class BadHost(DemoError):
    code = "BAD_HOST"
    http_status = 400


def check_host(request: Request, allowed: tuple[str, ...]) -> None:
    """Refuse a request whose Host header is not one of this server's names."""
    if "*" in allowed:
        return
    host = request.host.lower()
    # "example.org:7262" -> "example.org"; "[::1]:7262" -> "[::1]"
    name = host[: host.find("]") + 1] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
    if name in allowed or any(a.startswith(".") and (name.endswith(a) or name == a[1:]) for a in allowed):
        return
    raise BadHost(
        f"This server does not answer to the host name {host!r}; the names it serves are set in "
        "ALLOWED_HOSTS (a guard against DNS rebinding)."
    )


def check_origin(request: Request, allowed: tuple[str, ...]) -> None:
    """Refuse a state-changing request sent by a page of another, not allowed, origin."""
    if request.method in _SAFE_METHODS or "*" in allowed:
        return
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer")
        if referer:
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}"
        elif request.headers.get("Sec-Fetch-Site") == "cross-site":
            origin = "null"
        else:
            return  # not sent by a browser page (curl, scripts): nothing to forge
    _check_named_origin(request, origin, allowed)


def check_socket_origin(request: Request, allowed: tuple[str, ...]) -> None:
    """A WebSocket upgrade is a GET that changes state: browsers send its Origin, so check it.

    Pages of any site may open a WebSocket to any server (no CORS), with the visitor's cookies.
    """
    origin = request.headers.get("Origin")
    if origin is None or "*" in allowed:
        return  # not a browser page (scripts, tests): nothing to forge
    _check_named_origin(request, origin, allowed)


def _check_named_origin(request: Request, origin: str, allowed: tuple[str, ...]) -> None:
    origin = origin.rstrip("/")
    if origin != "null" and (urlsplit(origin).netloc == request.host or origin in allowed):
        return
    raise ForbiddenOrigin(
        f"Requests from the origin {origin} are not allowed; the server accepts changes only from "
        "its own pages and the origins in CORS_ORIGINS."
    )


def client_id(request: Request) -> str:
    """The requesting browser's X-Client-Id ("" when absent: the app then uses its cookie id)."""
    value = request.headers.get(CLIENT_ID_HEADER)
    if value is None or value == "":
        return ""
    if not CLIENT_ID_PATTERN.fullmatch(value):
        raise BadHeader(f"{CLIENT_ID_HEADER} must be 8 to 64 characters of A-Z, a-z, 0-9, '_' and '-'.")
    return value


class BadHeader(DemoError):
    pass


def check_graphql_body(request: Request) -> str | None:
    """A message saying what is wrong with a GraphQL POST body, or None when it looks sound."""
    content_type = (request.content_type or "").lower()
    if "application/json" in content_type:
        raw = request.get_data(cache=True)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "The request body is not valid UTF-8."
        document, problem = _load_json(text, "The request body")
        return problem or _check_operation(document, "The request body")
    if request.mimetype == "multipart/form-data":
        operations, problem = _load_json(request.form.get("operations", ""), "The 'operations' field")
        if problem:
            return problem
        problem = _check_operation(operations, "The 'operations' field")
        if problem:
            return problem
        files_map, problem = _load_json(request.form.get("map", ""), "The 'map' field")
        if problem:
            return problem
        return _check_files_map(files_map, operations.get("variables") or {}, request.files)
    return None


def _load_json(text: str, what: str) -> tuple[object, str | None]:
    if not text.strip():
        return None, f"{what} is missing or empty."
    try:
        return json.loads(text), None
    except RecursionError:
        return None, f"{what} is nested too deeply."
    except ValueError as exc:
        return None, f"{what} is not valid JSON ({exc.msg} at position {exc.pos})."


def _check_operation(document: object, what: str) -> str | None:
    if not isinstance(document, dict):
        return f'{what} must be a JSON object like {{"query": "...", "variables": {{...}}}}.'
    if not isinstance(document.get("query"), str):
        return f"{what} must hold the GraphQL query as a string in 'query'."
    if not isinstance(document.get("operationName"), (str, type(None))):
        return f"{what}: 'operationName' must be a string."
    variables = document.get("variables")
    if not isinstance(variables, (dict, type(None))):
        return f"{what}: 'variables' must be an object."
    return _check_shape(variables or {}, what)


def _check_shape(variables: dict, what: str) -> str | None:
    """Bounded size and nesting, checked without recursion (a hostile body is cheap to walk)."""
    count, stack = 0, [(variables, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VARIABLE_VALUES:
            return f"{what}: the variables hold more than {MAX_VARIABLE_VALUES} values."
        if depth > MAX_VARIABLE_DEPTH:
            return f"{what}: the variables are nested more than {MAX_VARIABLE_DEPTH} levels deep."
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return None


def _check_files_map(files_map: object, variables: dict, files) -> str | None:
    usage = "The 'map' field must be an object like {\"0\": [\"variables.file\"]}"
    if not isinstance(files_map, dict):
        return f"{usage}."
    for key, paths in files_map.items():
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            return f"{usage}: each entry is a list of variable paths."
        for path in paths:
            if not _FILE_VARIABLE.fullmatch(path) or path.split(".", 1)[1] not in variables:
                return f"{usage}: {path!r} does not name a variable of the operation."
        if key not in files:
            return f"The file part {key!r} named in 'map' is missing from the request."
    return None


def security_headers(public_url: str) -> dict[str, str]:
    """Headers of every response: no MIME sniffing, no framing, a strict content policy."""
    api = ""
    if public_url:
        parts = urlsplit(public_url)
        api = f" {parts.scheme}://{parts.netloc}"
    policy = (
        f"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{api}; media-src 'self' blob:{api}; connect-src 'self'{api}; "
        "font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Content-Security-Policy": policy,
    }
