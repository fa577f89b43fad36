/**
 * An object's frame range: the frames it is in the scene (it entered at
 * `firstFrame`, left after `lastFrame`; absent: the start / the end of the
 * video). It has no masks outside: the server drops them, exports leave
 * them out, Track does not ask for them.
 */
import type { ObjectsState, TrackedObject } from './objects';

export function inRange(o: Pick<TrackedObject, 'firstFrame' | 'lastFrame'> | undefined, frame: number): boolean {
  if (!o) return true;
  return (o.firstFrame == null || frame >= o.firstFrame) && (o.lastFrame == null || frame <= o.lastFrame);
}

export function hasRange(o: TrackedObject): boolean {
  return o.firstFrame != null || o.lastFrame != null;
}

function withRange(state: ObjectsState, id: number, change: (o: TrackedObject) => TrackedObject): ObjectsState {
  const o = state.objects.find((x) => x.id === id);
  if (!o) return state;
  const next = change(o);
  if ((next.firstFrame ?? null) === (o.firstFrame ?? null) && (next.lastFrame ?? null) === (o.lastFrame ?? null)) return state;
  return { ...state, objects: state.objects.map((x) => (x.id === id ? next : x)) };
}

/** The object leaves the scene after `frame` (a start after it is dropped). */
export function endAt(state: ObjectsState, id: number, frame: number): ObjectsState {
  return withRange(state, id, (o) => ({ ...o, lastFrame: frame, firstFrame: o.firstFrame != null && o.firstFrame > frame ? null : o.firstFrame }));
}

/** The object enters the scene at `frame` (an end before it is dropped). */
export function startAt(state: ObjectsState, id: number, frame: number): ObjectsState {
  return withRange(state, id, (o) => ({ ...o, firstFrame: frame, lastFrame: o.lastFrame != null && o.lastFrame < frame ? null : o.lastFrame }));
}

/** The whole video again. */
export function clearRange(state: ObjectsState, id: number): ObjectsState {
  return withRange(state, id, (o) => ({ ...o, firstFrame: null, lastFrame: null }));
}

/** "frames 12–40" (inclusive), for people. */
export function rangeText(o: TrackedObject, numFrames: number): string {
  return `frames ${o.firstFrame ?? 0}–${o.lastFrame ?? numFrames - 1}`;
}
