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
        acks = [self.service.writer.put_object(s.id, obj) for obj in objects]
        for ack in acks:
            self.service._acknowledged(ack)
        return True
