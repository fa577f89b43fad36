"""A session's work as a whole: share links, the names of its objects, and opening a work a
page did not make itself (a link, a reload). Transport-free, like service.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import BadInput, LimitExceeded
from .library import VideoRecord
from .storage.database import ShareLink, StoredObject
from .storage.replay import PromptView, fold, prompt_views

if TYPE_CHECKING:
    from .service import DemoService
    from .sessions import Session


@dataclass(frozen=True)
class OpenedWork:
    session_id: str  # what the page names the session by (its id, or the link's token)
    real_session_id: str
    mode: str  # "owner", "edit" or "view"
    video: VideoRecord
    objects: list[StoredObject]
    prompts: list[PromptView]


class WorkAccess:
    def __init__(self, service: DemoService):
        self.service = service

    def _owner_access(self, handle: object) -> str:
        access = self.service.sharing.resolve(handle, edit=True)
        if access.via_link:
            raise BadInput("Only the owner of this work can manage its share links.")
        self.service.session(access.session_id, edit=False)  # it exists and is not closed
        return access.session_id

    def create_link(self, handle: object, mode: object, client: str = "") -> ShareLink:
        return self.service.sharing.create(self._owner_access(handle), mode, client)

    def revoke_link(self, handle: object, token: object) -> bool:
        return self.service.sharing.revoke(self._owner_access(handle), token)

    def links(self, handle: object) -> list[ShareLink]:
        return self.service.sharing.links(self._owner_access(handle))

    def open(self, handle: object) -> OpenedWork:
        """What a page needs to show a session's work it did not make (a share link, a reload)."""
        access = self.service.sharing.resolve(handle, edit=False)
        s = self.service.session(handle, edit=False)
        self.service.writer.flush()
        views = prompt_views(fold(self.service.db.events(s.id)))
        return OpenedWork(handle, s.id, access.mode, s.video, self.service.db.objects(s.id), views)  # type: ignore[arg-type]

    def update_objects(self, handle: object, objects: list[StoredObject]) -> bool:
        """Names, colours and labels of objects, as the page shows them (shared with links)."""
        s = self.service.session(handle)
        if len(objects) > self.service.limits.max_objects:
            raise LimitExceeded(f"A session has at most {self.service.limits.max_objects} objects.")
        for obj in objects:
            self.service._check_object_id(obj.object_id)
            for name, value, limit in (("name", obj.name, 200), ("color", obj.color, 32), ("label", obj.label, 200)):
                if not isinstance(value, str) or len(value) > limit:
                    raise BadInput(f"an object's {name} must be text of at most {limit} characters.")
            first, last = obj.first_frame, obj.last_frame
            if any(f is not None and not 0 <= f < s.num_frames for f in (first, last)) or (
                first is not None and last is not None and first > last
            ):
                raise BadInput(
                    f"an object's frame range must lie in 0..{s.num_frames - 1} with firstFrame <= lastFrame."
                )
        acks = [self.service.writer.put_object(s.id, obj) for obj in objects]
        moved = [o for o in objects if s.ranges.get(o.object_id, (None, None)) != (o.first_frame, o.last_frame)]
        if moved:  # names alone need no lock (they may change while a propagation holds it)
            with self.service._locked(s.id) as locked:
                self._apply_ranges(locked, moved, acks)
        for ack in acks:
            self.service._acknowledged(ack)
        return True

    def _apply_ranges(self, s: Session, objects: list[StoredObject], acks: list) -> None:
        """Objects' frame ranges take effect: their masks outside are gone, here and stored."""
        changed = False
        for obj in objects:
            bounds = (obj.first_frame, obj.last_frame)
            if bounds == (None, None):
                s.ranges.pop(obj.object_id, None)
            else:
                s.ranges[obj.object_id] = bounds
            for frame, masks in s.masks.items():
                if obj.object_id in masks and not obj.covers(frame):
                    del masks[obj.object_id]
                    changed = True
            acks.append(self.service.writer.delete_masks_outside(s.id, obj))
        if changed:
            s.masks_version += 1
