"""Application factory: `create_app()` wires settings, model, sessions and the transports.

gunicorn -c demo/backend/gunicorn.conf.py 'demo.backend.app:create_app()'
"""

from __future__ import annotations

import atexit
import logging
import tempfile
import threading
from pathlib import Path

from flask import Flask, Request, Response, g, jsonify, request
from flask_cors import CORS
from gunicorn.http.errors import ParseException
from strawberry.flask.views import GraphQLView
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge

from . import draining, guards, identity, live_socket, routes, streaming
from .compute_gate import ComputeGate
from .errors import DemoError
from .inference import Segmenter, build_predictor
from .library import VideoLibrary
from .live import LiveHub
from .load_agent import LoadAgent, agent_reply
from .memory import MemoryReleaser
from .schema import format_error, schema
from .service import DemoService
from .sessions import SessionStore
from .settings import Settings
from .storage.database import WorkDatabase, connect, migrate
from .storage.writer import WorkWriter

log = logging.getLogger(__name__)


def upload_request_class(incoming: Path) -> type[Request]:
    """A Request whose multipart parser streams each file into `incoming` (on the data disk).

    Werkzeug's default keeps up to 500 KB in memory and the rest in the system temp folder,
    which is often RAM-backed (tmpfs) in containers; uploads must not end up in memory.
    """

    class UploadRequest(Request):
        def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
            return tempfile.NamedTemporaryFile(dir=incoming, prefix="part-", suffix=".upload")  # noqa: SIM115

    return UploadRequest


class DemoGraphQLView(GraphQLView):
    """Strawberry's Flask view with our context, error format and JSON transport errors."""

    def __init__(self, service: DemoService, **kwargs):
        super().__init__(**kwargs)
        self.service = service

    def get_context(self, request, response):
        return {"request": request, "response": response, "service": self.service, "client_id": g.client_id}

    def process_result(self, request, result):
        body = {"data": result.data}
        if result.errors:
            body["errors"] = [format_error(e) for e in result.errors]
        return body

    def dispatch_request(self):
        if request.method == "POST":
            problem = guards.check_graphql_body(request)
            if problem:
                return jsonify(errors=[{"message": problem, "extensions": {"code": "BAD_REQUEST"}}]), 400
        response = super().dispatch_request()
        if (
            isinstance(response, Response)
            and response.mimetype == "text/plain"
            and response.status_code >= 400
        ):
            # Transport-level refusals (bad JSON, wrong content type): answer in GraphQL's shape.
            message = response.get_data(as_text=True) or "Bad request."
            return jsonify(
                errors=[{"message": message, "extensions": {"code": "BAD_REQUEST"}}]
            ), response.status_code
        return response


def create_app(settings: Settings | None = None) -> Flask:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings or Settings.from_env()
    limits = settings.limits

    library = VideoLibrary(settings)
    library.ensure_gallery_posters()
    predictor, model_info = build_predictor(settings.model)
    gate = ComputeGate(settings.model.concurrency)
    segmenter = Segmenter(predictor, model_info, gate, wait_sec=limits.session_lock_timeout_sec)
    releaser = MemoryReleaser()
    store = SessionStore(limits.max_sessions, limits.session_ttl_sec, on_release=releaser.request)
    engine = connect(settings.database)
    migrate(engine)
    db = WorkDatabase(engine)
    writer = WorkWriter(db)
    atexit.register(writer.stop)  # a worker that exits writes what it queued first
    service = DemoService(settings, library, store, segmenter, db, writer)
    log.info(
        "SAM 2 demo %s: model %s (%s) on %s%s; data in %s; work kept in %s",
        settings.worker_name,
        model_info.size,
        model_info.config_file,
        model_info.device,
        " with RANDOM weights" if model_info.random_weights else "",
        settings.data_path,
        engine.url.render_as_string(hide_password=True),
    )

    app = Flask(__name__)
    app.request_class = upload_request_class(library.incoming_dir)
    app.config["MAX_CONTENT_LENGTH"] = limits.max_json_body_bytes  # uploads: see _upload_limit
    app.config["FRONTEND_DIST"] = settings.frontend_dist
    app.extensions["sam2_demo"] = service
    live = app.extensions["sam2_live"] = LiveHub(settings.live, limits, segmenter, service, library.incoming_dir)
    draining.register(live.shut_down, live.busy)
    if settings.cors_origins:  # none listed: same origin only, no CORS headers at all
        # Listed origins may send cookies (the official page fetches with credentials: 'include');
        # "*" never: any site could then act with a visitor's cookies.
        CORS(
            app,
            origins=list(settings.cors_origins),
            expose_headers=["Content-Disposition", "X-Served-By"],
            supports_credentials="*" not in settings.cors_origins,
            always_send=False,  # CORS headers answer an Origin; requests without one get none
        )
    security_headers = guards.security_headers(settings.public_url)
    identities = identity.Identities(identity.load_key(settings.identity_key, settings.data_path))

    @app.before_request
    def _guard() -> None:
        # Before anything reads the body: a refused request writes nothing.
        if request.path != "/healthy":  # probes may use any address; it tells nothing private
            guards.check_host(request, settings.allowed_hosts)
        guards.check_origin(request, settings.cors_origins)
        if request.path == "/live":
            guards.check_socket_origin(request, settings.cors_origins)
        g.client_id = guards.client_id(request)
        g.new_identity = None
        if not g.client_id and request.path == "/graphql":  # no X-Client-Id: the cookie's id
            g.client_id = identities.verify(request.cookies.get(identity.COOKIE)) or ""
            if not g.client_id:
                g.client_id, g.new_identity = identities.issue()

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in security_headers.items():
            response.headers.setdefault(name, value)
        response.headers["X-Served-By"] = settings.worker_name  # which worker (behind a proxy)
        if settings.cors_origins:  # answers differ by Origin: caches must keep them apart
            response.vary.add("Origin")
        if g.get("new_identity"):
            same_site, secure = identity.cookie_policy(
                request.headers.get("Origin"), settings.cors_origins, request.is_secure
            )
            response.set_cookie(
                identity.COOKIE, g.new_identity, max_age=identity.MAX_AGE_SEC,
                httponly=True, samesite=same_site, secure=secure,
            )  # fmt: skip
        return response

    @app.before_request
    def _upload_limit() -> None:
        # Werkzeug enforces this while it streams the body to a temporary file.
        if request.path == "/graphql" and request.mimetype == "multipart/form-data":
            request.max_content_length = limits.max_upload_bytes + (1 << 20)  # + multipart overhead

    @app.errorhandler(DemoError)
    def _demo_error(exc: DemoError):
        if request.path == "/graphql":
            return jsonify(errors=[{"message": exc.message, "extensions": {"code": exc.code}}]), exc.http_status
        return jsonify(exc.to_json()), exc.http_status

    @app.errorhandler(TimeoutError)
    @app.errorhandler(ClientDisconnected)
    def _body_cut_short(exc):
        # Werkzeug reports a failed body read as ClientDisconnected; a TimeoutError under it is
        # the transport's deadline (worker.py) running out.
        if isinstance(exc, TimeoutError) or isinstance(exc.__cause__ or exc.__context__, TimeoutError):
            message = "The request body arrived too slowly; the connection is closed."
            return jsonify(error={"message": message, "code": "REQUEST_TIMEOUT"}), 408
        return jsonify(error={"message": "The request body ended early.", "code": "BAD_REQUEST"}), 400

    @app.errorhandler(ParseException)
    def _malformed_body(exc):
        # A large body is read by the request thread; gunicorn's chunked reader finds its faults.
        response = jsonify(error={"message": f"Malformed request body: {exc}.", "code": "BAD_REQUEST"})
        response.headers["Connection"] = "close"  # the rest of the stream cannot be framed
        return response, 400

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        length = request.content_length
        if request.mimetype == "multipart/form-data" and length is not None and length <= limits.max_upload_bytes:
            # Werkzeug's own bound: a non-file field (operations, map) held in memory.
            message = "A form field of the multipart request is too large (fields other than the file are small)."
        elif request.mimetype == "multipart/form-data":
            message = f"The upload is larger than the limit of {limits.max_upload_mb:g} MB."
        else:
            message = f"The request body is larger than the limit of {limits.max_json_body_bytes // 1024} KB."
        if request.path == "/graphql":
            return jsonify(errors=[{"message": message, "extensions": {"code": "LIMIT_EXCEEDED"}}]), 413
        return jsonify(error={"message": message, "code": "LIMIT_EXCEEDED"}), 413

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return jsonify(
            error={"message": exc.description or exc.name, "code": exc.name.upper().replace(" ", "_")}
        ), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return jsonify(error={"message": "Internal server error.", "code": "INTERNAL"}), 500

    app.add_url_rule(
        "/graphql",
        view_func=DemoGraphQLView.as_view(
            "graphql",
            service=service,
            schema=schema,
            graphql_ide=None,
            multipart_uploads_enabled=True,
            allow_queries_via_get=False,
        ),
    )
    app.register_blueprint(streaming.blueprint)
    app.register_blueprint(live_socket.blueprint)
    app.register_blueprint(routes.blueprint)  # last: it holds the frontend's catch-all route
    _start_sweeper(service, limits.session_ttl_sec)
    if settings.load_agent_port:
        agent = LoadAgent(
            settings.host,
            settings.load_agent_port,
            lambda: agent_reply(len(store), limits.max_sessions, draining.is_draining()),
        )
        log.info("load agent for HAProxy on port %d", agent.port)
    return app


def _start_sweeper(service: DemoService, ttl_sec: float) -> None:
    """Ends idle sessions and expired uploads even when no request comes in."""
    interval = max(1.0, min(60.0, ttl_sec / 2))

    def sweep_forever() -> None:
        stop = threading.Event()
        while not stop.wait(interval):
            try:
                service.sweep()
            except Exception:  # never let the sweeper die
                log.exception("sweep failed")

    threading.Thread(target=sweep_forever, name="session-sweeper", daemon=True).start()
