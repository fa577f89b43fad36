"""GraphQL types and resolvers of "segment everything" (logic: `segment_everything.py`).

schema.py mounts them:
  mutation segmentEverything(input: SegmentEverythingInput!): SegmentEverythingResult
  mutation cancelSegmentEverything(input: CancelSegmentEverythingInput!): CancelSegmentEverything
  query    segmentEverythingProgress(sessionId: String!): SegmentEverythingProgress
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from .segment_everything import EverythingResult, SegmentEverything

if TYPE_CHECKING:
    from .schema import RLEMask


def _everything(info: Info) -> SegmentEverything:
    return info.context["service"].everything


@strawberry.input
class SegmentEverythingInput:
    session_id: str
    frame_index: int
    points_per_side: int | None = None  # density: a grid of N x N point prompts (default 16, max 64)
    min_score: float | None = None  # minimum predicted IoU (0..1, default 0.7)
    min_stability: float | None = None  # minimum stability score (0..1, default 0.9)
    max_objects: int | None = None  # at most this many proposals (always <= MAX_OBJECTS - objects)
    min_area: int | None = None  # pixels a proposal keeps after the overlap assignment
    box_nms_thresh: float | None = None  # de-duplication: box IoU above it drops the lower score (default 0.7)


@strawberry.input
class CancelSegmentEverythingInput:
    session_id: str


@strawberry.type
class EverythingProposal:
    rle_mask: Annotated[RLEMask, strawberry.lazy(".schema")]
    score: float
    stability_score: float
    area: int
    bbox: list[int]  # x, y, width, height in video pixels
    point: list[float]  # the prompt [x, y], normalised to [0, 1]


@strawberry.type
class SegmentEverythingResult:
    frame_index: int
    proposals: list[EverythingProposal]  # best first, non-overlapping
    candidates: int
    cancelled: bool
    seconds: float

    @classmethod
    def from_result(cls, result: EverythingResult) -> SegmentEverythingResult:
        from .schema import RLEMask

        return cls(
            frame_index=result.frame_index,
            proposals=[
                EverythingProposal(
                    rle_mask=RLEMask(size=p.rle["size"], counts=p.rle["counts"], order="F"),
                    score=p.score,
                    stability_score=p.stability_score,
                    area=p.area,
                    bbox=p.bbox,
                    point=p.point,
                )
                for p in result.proposals
            ],
            candidates=result.candidates,
            cancelled=result.cancelled,
            seconds=result.seconds,
        )


@strawberry.type
class SegmentEverythingProgress:
    running: bool
    done: int
    total: int


@strawberry.type
class CancelSegmentEverything:
    success: bool


def segment_everything(info: Info, input: SegmentEverythingInput) -> SegmentEverythingResult:
    result = _everything(info).run(
        input.session_id, input.frame_index, input.points_per_side, input.min_score, input.min_stability,
        input.max_objects, input.min_area, input.box_nms_thresh,
    )
    return SegmentEverythingResult.from_result(result)


def cancel_segment_everything(info: Info, input: CancelSegmentEverythingInput) -> CancelSegmentEverything:
    return CancelSegmentEverything(success=_everything(info).cancel(input.session_id))


def segment_everything_progress(info: Info, session_id: str) -> SegmentEverythingProgress:
    progress = _everything(info).progress(session_id)
    return SegmentEverythingProgress(running=progress.running, done=progress.done, total=progress.total)
