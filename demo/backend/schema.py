"""GraphQL schema (Strawberry): the official SAM 2 demo's names and types, plus ours.

Transport only: each resolver converts arguments, calls `DemoService`, converts the result.
The service comes from the request context (`info.context["service"]`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.file_uploads import Upload
from strawberry.types import Info

from .errors import BadInput, DemoError
from .inference import FrameMasks
from .library import VideoRecord
from .query_limits import QUERY_LIMITS
from .segment_everything_schema import (
    cancel_segment_everything,
    segment_everything,
    segment_everything_progress,
)
from .service import DemoService
from .sharing import route_key
from .work_schema import create_share_link, revoke_share_link, share_links, update_objects, work

log = logging.getLogger(__name__)


def _service(info: Info) -> DemoService:
    return info.context["service"]


# -- types ---------------------------------------------------------------------------------


@strawberry.type
class Video(relay.Node):
    code: relay.NodeID[str]
    path: str
    poster_path: str | None
    url: str
    poster_url: str | None
    width: int
    height: int
    fps: float
    num_frames: int
    duration_sec: float
    display_name: str  # the original file name of an upload, a readable title for gallery clips
    is_upload: bool

    @classmethod
    def from_record(cls, record: VideoRecord, public_url: str) -> Video:
        return cls(
            display_name=record.display_name,
            is_upload=record.is_upload,
            code=record.path,
            path=record.path,
            poster_path=record.poster_path,
            url=f"{public_url}/{record.path}",
            poster_url=f"{public_url}/{record.poster_path}" if record.poster_path else None,
            width=record.width,
            height=record.height,
            fps=record.fps,
            num_frames=record.num_frames,
            duration_sec=record.duration_sec,
        )

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        service = _service(info)
        records = {r.path: r for r in service.list_videos(info.context["client_id"])}
        url = service.settings.public_url
        return [Video.from_record(records[i], url) if i in records else None for i in node_ids]


@strawberry.type
class RLEMask:
    size: list[int]
    counts: str
    order: str


@strawberry.type
class RLEMaskForObject:
    object_id: int
    rle_mask: RLEMask


@strawberry.type
class RLEMaskListOnFrame:
    frame_index: int
    rle_mask_list: list[RLEMaskForObject]

    @classmethod
    def from_frame(cls, frame: FrameMasks) -> RLEMaskListOnFrame:
        return cls(
            frame_index=frame.frame_index,
            rle_mask_list=[
                RLEMaskForObject(
                    object_id=obj, rle_mask=RLEMask(size=m["size"], counts=m["counts"], order="F")
                )
                for obj, m in frame.masks
            ],
        )


@strawberry.type
class StartSession:
    session_id: str
    route_key: str  # send it as X-Route-Key on every request of this session (see sharing.py)


@strawberry.type
class CloseSession:
    success: bool


@strawberry.type
class ClearPointsInVideo:
    success: bool


@strawberry.type
class CancelPropagateInVideo:
    success: bool


@strawberry.type
class ServerInfo:
    model_size: str
    model_config: str
    device: str
    precision: str  # the model's compute precision: fp32 | bf16 | int8
    random_weights: bool
    max_objects: int
    max_upload_mb: float
    max_duration_sec: float
    max_sessions: int
    session_ttl_sec: float
    max_fps: int
    max_propagations: int


# -- inputs ----------------------------------------------------------------------------------


@strawberry.input
class StartSessionInput:
    path: str


@strawberry.input
class CloseSessionInput:
    session_id: str


@strawberry.input
class AddPointsInput:
    session_id: str
    frame_index: int
    clear_old_points: bool
    object_id: int
    labels: list[int]
    points: list[list[float]]  # [[x, y], ...] normalised to [0, 1]


@strawberry.input
class AddBoxInput:
    session_id: str
    frame_index: int
    object_id: int
    box: list[float]  # [x0, y0, x1, y1] normalised to [0, 1]
    labels: list[int] | None = None
    points: list[list[float]] | None = None


@strawberry.input
class RLEMaskInput:
    size: list[int]  # [H, W]
    counts: str
    order: str | None = "F"


@strawberry.input
class AddMaskInput:
    session_id: str
    frame_index: int
    object_id: int
    rle_mask: RLEMaskInput


@strawberry.input
class ClearPointsInFrameInput:
    session_id: str
    frame_index: int
    object_id: int


@strawberry.input
class ClearPointsInVideoInput:
    session_id: str


@strawberry.input
class RemoveObjectInput:
    session_id: str
    object_id: int


@strawberry.input
class DeleteMasksInput:
    session_id: str
    object_id: int
    first_frame: int  # inclusive
    last_frame: int  # inclusive


@strawberry.type
class DeleteMasks:
    deleted: int  # how many (frame, object) masks went


@strawberry.input
class CancelPropagateInVideoInput:
    session_id: str


# -- operations ------------------------------------------------------------------------------


@strawberry.type
class Query:
    @relay.connection(relay.ListConnection[Video])
    def videos(self, info: Info) -> Iterable[Video]:
        service = _service(info)
        records = service.list_videos(info.context["client_id"])
        return [Video.from_record(r, service.settings.public_url) for r in records]

    @strawberry.field
    def default_video(self, info: Info) -> Video:
        service = _service(info)
        return Video.from_record(service.default_video(), service.settings.public_url)

    @strawberry.field
    def server_info(self, info: Info) -> ServerInfo:
        service = _service(info)
        model, limits = service.segmenter.info, service.limits
        return ServerInfo(
            model_size=model.size,
            model_config=model.config_file,
            device=model.device,
            precision=model.precision,
            random_weights=model.random_weights,
            max_objects=limits.max_objects,
            max_upload_mb=limits.max_upload_mb,
            max_duration_sec=limits.max_duration_sec,
            max_sessions=limits.max_sessions,
            session_ttl_sec=limits.session_ttl_sec,
            max_fps=limits.max_fps,
            max_propagations=limits.max_propagations,
        )

    segment_everything_progress = strawberry.field(resolver=segment_everything_progress)
    work = strawberry.field(resolver=work)
    share_links = strawberry.field(resolver=share_links)


@strawberry.type
class Mutation:
    @strawberry.mutation
    def upload_video(
        self,
        info: Info,
        file: Upload,
        start_time_sec: float | None = None,
        duration_time_sec: float | None = None,
    ) -> Video:
        stream = getattr(file, "stream", None)
        if stream is None or not hasattr(stream, "read"):
            raise BadInput("file must be a file sent as a GraphQL multipart upload.")
        service = _service(info)
        name = getattr(file, "filename", None)
        record = service.upload_video(
            stream, start_time_sec, duration_time_sec, owner=info.context["client_id"], file_name=name
        )
        return Video.from_record(record, service.settings.public_url)

    @strawberry.mutation
    def start_session(self, info: Info, input: StartSessionInput) -> StartSession:
        session_id = _service(info).start_session(input.path, info.context["client_id"])
        key = route_key(session_id)
        # Also a header, so a proxy learns which worker holds the session (docker/haproxy.cfg).
        info.context["response"].headers["X-Route-Key"] = key
        return StartSession(session_id=session_id, route_key=key)

    @strawberry.mutation
    def close_session(self, info: Info, input: CloseSessionInput) -> CloseSession:
        return CloseSession(success=_service(info).close_session(input.session_id))

    @strawberry.mutation
    def add_points(self, info: Info, input: AddPointsInput) -> RLEMaskListOnFrame:
        frame = _service(info).add_points(
            input.session_id,
            input.frame_index,
            input.object_id,
            input.points,
            input.labels,
            input.clear_old_points,
        )
        return RLEMaskListOnFrame.from_frame(frame)

    @strawberry.mutation
    def add_box(self, info: Info, input: AddBoxInput) -> RLEMaskListOnFrame:
        frame = _service(info).add_box(
            input.session_id, input.frame_index, input.object_id, input.box, input.points, input.labels
        )
        return RLEMaskListOnFrame.from_frame(frame)

    @strawberry.mutation
    def add_mask(self, info: Info, input: AddMaskInput) -> RLEMaskListOnFrame:
        if input.rle_mask.order not in (None, "F"):
            raise BadInput('rleMask.order must be "F" (column-major COCO RLE).')
        mask = {"size": input.rle_mask.size, "counts": input.rle_mask.counts}
        frame = _service(info).add_mask(input.session_id, input.frame_index, input.object_id, mask)
        return RLEMaskListOnFrame.from_frame(frame)

    @strawberry.mutation
    def clear_points_in_frame(self, info: Info, input: ClearPointsInFrameInput) -> RLEMaskListOnFrame:
        frame = _service(info).clear_points_in_frame(input.session_id, input.frame_index, input.object_id)
        return RLEMaskListOnFrame.from_frame(frame)

    @strawberry.mutation
    def clear_points_in_video(self, info: Info, input: ClearPointsInVideoInput) -> ClearPointsInVideo:
        return ClearPointsInVideo(success=_service(info).clear_points_in_video(input.session_id))

    @strawberry.mutation
    def remove_object(self, info: Info, input: RemoveObjectInput) -> list[RLEMaskListOnFrame]:
        frames = _service(info).remove_object(input.session_id, input.object_id)
        return [RLEMaskListOnFrame.from_frame(f) for f in frames]

    @strawberry.mutation(
        description="Delete an object's masks on frames firstFrame..lastFrame and its prompts there; "
        "the frames are untracked (a later propagation fills them again from its other prompts)."
    )
    def delete_masks(self, info: Info, input: DeleteMasksInput) -> DeleteMasks:
        deleted = _service(info).delete_masks(input.session_id, input.object_id, input.first_frame, input.last_frame)
        return DeleteMasks(deleted=deleted)

    @strawberry.mutation
    def cancel_propagate_in_video(
        self, info: Info, input: CancelPropagateInVideoInput
    ) -> CancelPropagateInVideo:
        return CancelPropagateInVideo(success=_service(info).cancel_propagation(input.session_id))

    segment_everything = strawberry.mutation(resolver=segment_everything)
    cancel_segment_everything = strawberry.mutation(resolver=cancel_segment_everything)
    create_share_link = strawberry.mutation(resolver=create_share_link)
    revoke_share_link = strawberry.mutation(resolver=revoke_share_link)
    update_objects = strawberry.mutation(resolver=update_objects)


class DemoSchema(strawberry.Schema):
    """Logs only unexpected errors; expected ones (DemoError, bad queries) are the client's."""

    def process_errors(self, errors, execution_context=None) -> None:
        for error in errors:
            if error.original_error is not None and not isinstance(
                error.original_error, (DemoError, GraphQLError)
            ):
                log.error("unexpected error in GraphQL operation", exc_info=error.original_error)


def format_error(error: GraphQLError) -> dict:
    """JSON of one error: DemoError messages as they are (with a code), bugs masked."""
    original = error.original_error
    formatted = error.formatted
    if isinstance(original, DemoError):
        formatted["extensions"] = {"code": original.code}
    elif original is not None and not isinstance(original, GraphQLError):
        formatted["message"] = "Internal server error."
        formatted["extensions"] = {"code": "INTERNAL"}
    else:
        formatted.setdefault("extensions", {})["code"] = "GRAPHQL_VALIDATION"
    return formatted


schema = DemoSchema(query=Query, mutation=Mutation, extensions=QUERY_LIMITS)
