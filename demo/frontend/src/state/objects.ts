/**
 * The objects a user segments: ids, names, colours and which one is selected.
 * Pure functions over an immutable state; the server's object limit is passed
 * in, never hard-coded.
 */

export interface TrackedObject {
  /** Object id sent to the server (positive, never reused within a session). */
  id: number;
  name: string;
  /** CSS hex colour, e.g. "#1f77b4". */
  color: string;
  /** The name of its label (its class: "person", "car"); absent or "" = none. */
  label?: string;
  /** Its frame range, inclusive (state/ranges.ts); absent or null: from the start / to the end. */
  firstFrame?: number | null;
  lastFrame?: number | null;
}

/** A class objects can belong to (state/labels.ts keeps the set). */
export interface Label {
  name: string;
  color: string;
}

export interface ObjectsState {
  objects: TrackedObject[];
  selectedId: number | null;
  nextId: number;
  /** The video's label set (absent in work saved before labels: none). */
  labels?: readonly Label[];
}

/** Distinct colours, readable on dark and light video; cycled past the end. */
export const OBJECT_PALETTE = [
  '#3b82f6', '#f97316', '#22c55e', '#ef4444', '#a855f7', '#eab308', '#14b8a6', '#ec4899',
  '#84cc16', '#06b6d4', '#f43f5e', '#8b5cf6', '#10b981', '#f59e0b', '#6366f1', '#d946ef',
];

export class ObjectLimitError extends Error {
  constructor(limit: number) {
    super(`The server allows at most ${limit} objects per video.`);
    this.name = 'ObjectLimitError';
  }
}

export const emptyObjects: ObjectsState = { objects: [], selectedId: null, nextId: 1 };

/** Add a new object named "Object N", select it. Throws ObjectLimitError at the limit. */
export function addObject(state: ObjectsState, maxObjects: number): ObjectsState {
  if (state.objects.length >= maxObjects) throw new ObjectLimitError(maxObjects);
  const id = state.nextId;
  const color = OBJECT_PALETTE[(id - 1) % OBJECT_PALETTE.length];
  return {
    ...state,
    objects: [...state.objects, { id, name: `Object ${id}`, color }],
    selectedId: id,
    nextId: id + 1,
  };
}

export function selectObject(state: ObjectsState, id: number): ObjectsState {
  if (!state.objects.some((o) => o.id === id)) return state;
  return { ...state, selectedId: id };
}

export function renameObject(state: ObjectsState, id: number, name: string): ObjectsState {
  const trimmed = name.trim().slice(0, 60);
  return {
    ...state,
    objects: state.objects.map((o) => (o.id === id ? { ...o, name: trimmed || `Object ${id}` } : o)),
  };
}

export function recolorObject(state: ObjectsState, id: number, color: string): ObjectsState {
  if (!/^#[0-9a-fA-F]{6}$/.test(color)) return state;
  return { ...state, objects: state.objects.map((o) => (o.id === id ? { ...o, color } : o)) };
}

/** Remove an object; the selection moves to a neighbour. */
export function removeObject(state: ObjectsState, id: number): ObjectsState {
  const index = state.objects.findIndex((o) => o.id === id);
  if (index < 0) return state;
  const objects = state.objects.filter((o) => o.id !== id);
  let selectedId = state.selectedId;
  if (selectedId === id) {
    const neighbour = objects[Math.min(index, objects.length - 1)];
    selectedId = neighbour ? neighbour.id : null;
  }
  return { ...state, objects, selectedId };
}

export function findObject(state: ObjectsState, id: number | null): TrackedObject | undefined {
  return id === null ? undefined : state.objects.find((o) => o.id === id);
}
