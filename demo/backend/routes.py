"""Plain HTTP routes: health, static media, mask export, and the built frontend at `/`."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from werkzeug.exceptions import MethodNotAllowed

from . import draining, export
from .errors import BadInput, NotFound
from .service import DemoService

blueprint = Blueprint("routes", __name__)


def _service() -> DemoService:
    return current_app.extensions["sam2_demo"]


@blueprint.route("/healthy")
def healthy() -> Response:
    service = _service()
    if draining.is_draining():  # SIGTERM: take this server out of rotation
        return jsonify(status="draining", propagations=service.active_propagations), 503
    return jsonify(
        status="ok",
        sessions=len(service.store),
        propagations=service.active_propagations,
        stalled_streams=service.stalled_streams(),
        waiting_model_calls=service.segmenter.gate.waiting,
        model_runs=service.segmenter.usage.as_json(),
        live=current_app.extensions["sam2_live"].as_json(),
    )


def _media(folder: str, rel: str) -> Response:
    path = _service().library.static_file(folder, rel)
    # conditional=True answers Range requests: browsers seek in videos with them.
    return send_file(path, conditional=True, max_age=3600)


@blueprint.route("/gallery/<path:rel>")
def gallery(rel: str) -> Response:
    return _media("gallery", rel)


@blueprint.route("/posters/<path:rel>")
def posters(rel: str) -> Response:
    return _media("posters", rel)


@blueprint.route("/uploads/<path:rel>")
def uploads(rel: str) -> Response:
    return _media("uploads", rel)


@blueprint.route("/export_masks")
def export_masks() -> Response:
    """?session_id=...&format=coco|zip: the session's current masks as COCO RLE JSON or PNGs."""
    fmt = request.args.get("format", "coco")
    if fmt not in ("coco", "zip"):
        raise BadInput("format must be coco or zip.")
    session = _service().export(request.args.get("session_id"))
    stem = Path(session.video.path).stem
    suffix, mimetype = {"coco": ("json", "application/json"), "zip": ("zip", "application/zip")}[fmt]
    return Response(
        _service().exports.stream(session, fmt, _service().db.objects(session.id)),
        mimetype=mimetype,
        headers={"Content-Disposition": export.attachment(f"{stem}_masks.{suffix}")},
    )


# -- the built frontend (demo/frontend/dist), when present --------------------------------------


@blueprint.route("/", defaults={"rel": ""})
@blueprint.route("/<path:rel>")
def frontend(rel: str) -> Response:
    if rel in ("graphql", "propagate_in_video"):  # API routes answer POST only
        raise MethodNotAllowed(valid_methods=["POST"])
    dist: Path = current_app.config["FRONTEND_DIST"]
    index = dist / "index.html"
    if not index.is_file():
        if rel:
            raise NotFound("Not found.")
        return Response(
            "SAM 2 demo backend is running; the frontend is not built (see demo/frontend). "
            "GraphQL: POST /graphql\n",
            mimetype="text/plain",
        )
    if rel:
        target = (dist / rel).resolve()
        if target.is_file() and target.is_relative_to(dist.resolve()):
            return send_file(target, max_age=0 if rel.endswith(".html") else 3600)
        if "." in Path(rel).name:  # a missing asset, not an app route
            raise NotFound("Not found.")
    return send_file(index, max_age=0)
