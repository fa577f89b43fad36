"""GraphQL operations on a session's work as a whole: share links, the details of objects,
and opening a work a page did not make itself (`work`). Transport only (see service.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from .sharing import route_key
from .storage.database import StoredObject

if TYPE_CHECKING:
    from .schema import Video


@strawberry.type
class ShareLink:
    token: str
    mode: str  # "edit" | "view"


@strawberry.type
class WorkObject:
    object_id: int
    name: str
    color: str
    label: str
    first_frame: int | None = None  # its frame range, inclusive (null: from the start / to the end)
    last_frame: int | None = None


@strawberry.type
class WorkPrompt:
    """One object's prompts on one frame: the mask it started from, a box, clicks ([0, 1])."""

    frame_index: int
    object_id: int
    points: list[list[float]]
    labels: list[int]
    box: list[float] | None
    mask_counts: str | None


@strawberry.type
class Work:
    session_id: str  # what to name the session by from now on (an id, or the link's token)
    mode: str  # "owner", "edit" or "view"
    route_key: str  # send it as X-Route-Key on every request of this session
    video: Annotated[Video, strawberry.lazy(".schema")]
    objects: list[WorkObject]
    prompts: list[WorkPrompt]


@strawberry.input
class CreateShareLinkInput:
    session_id: str
    mode: str


@strawberry.input
class RevokeShareLinkInput:
    session_id: str
    token: str


@strawberry.input
class WorkObjectInput:
    object_id: int
    name: str = ""
    color: str = ""
    label: str = ""
    # Its frame range, inclusive (null: from the start / to the end): masks outside it are deleted
    # and tracking keeps none there.
    first_frame: int | None = None
    last_frame: int | None = None


@strawberry.input
class UpdateObjectsInput:
    session_id: str
    objects: list[WorkObjectInput]


@strawberry.type
class UpdateObjects:
    success: bool


@strawberry.type
class RevokeShareLink:
    success: bool


def work(info: Info, session_id: str) -> Work:
    from .schema import Video  # the module that builds the schema imports this one

    service = info.context["service"]
    w = service.work.open(session_id)
    return Work(
        session_id=w.session_id,
        mode=w.mode,
        route_key=route_key(w.real_session_id),
        video=Video.from_record(w.video, service.settings.public_url),
        objects=[
            WorkObject(object_id=o.object_id, name=o.name, color=o.color, label=o.label, first_frame=o.first_frame,
                       last_frame=o.last_frame)
            for o in w.objects
        ],
        prompts=[
            WorkPrompt(
                frame_index=p.frame_index, object_id=p.object_id, points=p.points, labels=p.labels, box=p.box,
                mask_counts=p.mask_counts,
            )
            for p in w.prompts
        ],
    )


def share_links(info: Info, session_id: str) -> list[ShareLink]:
    return [ShareLink(token=link.token, mode=link.mode) for link in info.context["service"].work.links(session_id)]


def create_share_link(info: Info, input: CreateShareLinkInput) -> ShareLink:
    link = info.context["service"].work.create_link(input.session_id, input.mode, info.context["client_id"])
    return ShareLink(token=link.token, mode=link.mode)


def revoke_share_link(info: Info, input: RevokeShareLinkInput) -> RevokeShareLink:
    return RevokeShareLink(success=info.context["service"].work.revoke_link(input.session_id, input.token))


def update_objects(info: Info, input: UpdateObjectsInput) -> UpdateObjects:
    objects = [
        StoredObject(o.object_id, o.name, o.color, o.label, o.first_frame, o.last_frame) for o in input.objects
    ]
    return UpdateObjects(success=info.context["service"].work.update_objects(input.session_id, objects))
