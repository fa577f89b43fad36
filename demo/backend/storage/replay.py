"""Prompt events, and folding them into what a rebuilt session must replay.

The database keeps every prompt a session acknowledged as an event, in order. A rebuilt
session folds them into, per object and frame, the prompts still in effect (a clear of the
frame, a removal of the object or a clear of the video drops what came before) and replays
them into a fresh model state only when the model needs them (see `service.py`): its masks
come from the database meanwhile.

Replaying the events of a frame in order gives the same result there as the original calls
did when that frame was a first prompt for its object (no memory of tracked frames involved).
Prompts made on a frame after it had been tracked were computed with the tracking memory,
which the database does not hold; a rebuilt session recomputes them without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Kinds of event. The first three are prompts (they run the model on their frame).
POINTS, BOX, MASK = "points", "box", "mask"
CLEAR_FRAME, REMOVE_OBJECT, CLEAR_VIDEO = "clear_frame", "remove_object", "clear_video"
PROMPT_KINDS = (POINTS, BOX, MASK)
KINDS = (*PROMPT_KINDS, CLEAR_FRAME, REMOVE_OBJECT, CLEAR_VIDEO)


@dataclass(frozen=True)
class PromptEvent:
    """One acknowledged change of a session's prompts.

    payload: POINTS {"points": [[x, y]], "labels": [0|1], "clear_old": bool} (x, y in [0, 1]);
    BOX {"box": [x0, y0, x1, y1], "points": [...], "labels": [...]}; MASK {"counts": str}
    (COCO RLE at the video's size); the others carry nothing.
    """

    kind: str
    frame_index: int | None = None
    object_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown prompt event kind {self.kind!r}")

    def payload_json(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"))

    @classmethod
    def from_row(cls, kind: str, frame_index: int | None, object_id: int | None, payload: str) -> PromptEvent:
        return cls(kind, frame_index, None if object_id is None else int(object_id), json.loads(payload or "{}"))


# object id -> frame index -> the prompt events in effect there, oldest first
PendingPrompts = dict[int, dict[int, list[PromptEvent]]]


def fold(events: list[PromptEvent]) -> PendingPrompts:
    """The prompts in effect after `events` (oldest first), by object and frame."""
    pending: PendingPrompts = {}
    for event in events:
        if event.kind == CLEAR_VIDEO:
            pending.clear()
        elif event.kind == REMOVE_OBJECT:
            pending.pop(event.object_id, None)
        elif event.kind == CLEAR_FRAME:
            frames = pending.get(event.object_id)
            if frames is not None:
                frames.pop(event.frame_index, None)
                if not frames:
                    del pending[event.object_id]
        else:
            pending.setdefault(event.object_id, {}).setdefault(event.frame_index, []).append(event)
    return pending


def prompted_frames(pending: PendingPrompts) -> dict[int, set[int]]:
    """object id -> frames holding its prompts (the session's `prompted`)."""
    return {obj: set(frames) for obj, frames in pending.items()}


@dataclass(frozen=True)
class PromptView:
    """The prompts of one object on one frame as a page draws them: the mask it started from
    (if any), then a box and clicks (x, y in [0, 1])."""

    frame_index: int
    object_id: int
    points: list[list[float]]
    labels: list[int]
    box: list[float] | None
    mask_counts: str | None


def prompt_views(pending: PendingPrompts) -> list[PromptView]:
    views = []
    for obj, frames in sorted(pending.items()):
        for frame, events in sorted(frames.items()):
            points: list[list[float]] = []
            labels: list[int] = []
            box, mask = None, None
            for e in events:
                p = e.payload
                if e.kind == MASK:
                    mask, box, points, labels = p.get("counts"), None, [], []
                elif e.kind == BOX:
                    box, points, labels = list(p["box"]), list(p.get("points", [])), list(p.get("labels", []))
                elif p.get("clear_old", True):
                    points, labels = list(p["points"]), list(p["labels"])
                else:
                    points, labels = points + list(p["points"]), labels + list(p["labels"])
            views.append(PromptView(frame, obj, points, labels, box, mask))
    return views
