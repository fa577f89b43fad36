/**
 * Prompts per (object, frame): points and an optional box, in normalised
 * video coordinates ([0, 1] on both axes, origin top-left). Every edit
 * returns the whole new prompt set of that frame and object, because the
 * server replaces a frame's prompts with what it is sent (as the official
 * client does). Undo lives in `history.ts`, over prompts and objects together.
 * A frame may also carry a whole mask (a kept "segment everything"
 * proposal): sent first, clicks and a box on that frame then refine it.
 */
import type { RleMask } from '../render/rle';

export interface PromptPoint {
  x: number;
  y: number;
  /** 1 = positive (part of the object), 0 = negative (not part of it). */
  label: 0 | 1;
}

export interface PromptBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface FramePrompt {
  points: PromptPoint[];
  box: PromptBox | null;
  /** A whole mask at the video's size (optional: work saved before masks existed has none). */
  mask?: RleMask | null;
}

export interface PromptEdit {
  objectId: number;
  frameIndex: number;
  /** The frame's prompt set after the edit (what to send to the server). */
  prompt: FramePrompt;
}

export interface PromptsState {
  /** Prompt set per "objectId:frameIndex"; absent = no prompt. */
  byKey: Readonly<Record<string, FramePrompt>>;
}

export const emptyPrompts: PromptsState = { byKey: {} };
export const emptyFramePrompt: FramePrompt = { points: [], box: null };

export const keyOf = (objectId: number, frameIndex: number) => `${objectId}:${frameIndex}`;

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

export function getPrompt(state: PromptsState, objectId: number, frameIndex: number): FramePrompt {
  return state.byKey[keyOf(objectId, frameIndex)] ?? emptyFramePrompt;
}

export function isEmptyPrompt(p: FramePrompt): boolean {
  return p.points.length === 0 && p.box === null && !p.mask;
}

function withPrompt(state: PromptsState, objectId: number, frameIndex: number, prompt: FramePrompt): [PromptsState, PromptEdit] {
  const key = keyOf(objectId, frameIndex);
  const byKey = { ...state.byKey };
  if (isEmptyPrompt(prompt)) delete byKey[key];
  else byKey[key] = prompt;
  return [{ byKey }, { objectId, frameIndex, prompt }];
}

export function addPoint(state: PromptsState, objectId: number, frameIndex: number, point: PromptPoint): [PromptsState, PromptEdit] {
  const prev = getPrompt(state, objectId, frameIndex);
  const p: PromptPoint = { x: clamp01(point.x), y: clamp01(point.y), label: point.label };
  return withPrompt(state, objectId, frameIndex, { ...prev, points: [...prev.points, p] });
}

/**
 * Index of the point of `prompt` nearest to (x, y) within the tolerances
 * (normalised units per axis, so a tolerance in screen pixels stays round
 * on a non-square video), or -1.
 */
export function findPointNear(prompt: FramePrompt, x: number, y: number, tolX: number, tolY: number): number {
  let best = -1;
  let bestDist = Infinity;
  prompt.points.forEach((p, i) => {
    const dx = (p.x - x) / tolX;
    const dy = (p.y - y) / tolY;
    const d = dx * dx + dy * dy;
    if (d <= 1 && d < bestDist) {
      best = i;
      bestDist = d;
    }
  });
  return best;
}

export function removePoint(state: PromptsState, objectId: number, frameIndex: number, index: number): [PromptsState, PromptEdit] {
  const prev = getPrompt(state, objectId, frameIndex);
  if (index < 0 || index >= prev.points.length) throw new RangeError(`no point ${index} on this frame`);
  return withPrompt(state, objectId, frameIndex, { ...prev, points: prev.points.filter((_, i) => i !== index) });
}

/** Set the frame's box (replacing any earlier box); corners are sorted and clamped. */
export function setBox(state: PromptsState, objectId: number, frameIndex: number, box: PromptBox): [PromptsState, PromptEdit] {
  const prev = getPrompt(state, objectId, frameIndex);
  const sorted: PromptBox = {
    x0: clamp01(Math.min(box.x0, box.x1)),
    y0: clamp01(Math.min(box.y0, box.y1)),
    x1: clamp01(Math.max(box.x0, box.x1)),
    y1: clamp01(Math.max(box.y0, box.y1)),
  };
  return withPrompt(state, objectId, frameIndex, { ...prev, box: sorted });
}

/** Prompt an object on a frame by a whole mask (replacing the frame's prompts: the mask is the new start). */
export function setMask(state: PromptsState, objectId: number, frameIndex: number, mask: RleMask): [PromptsState, PromptEdit] {
  return withPrompt(state, objectId, frameIndex, { points: [], box: null, mask });
}

export function clearFrame(state: PromptsState, objectId: number, frameIndex: number): [PromptsState, PromptEdit] {
  return withPrompt(state, objectId, frameIndex, emptyFramePrompt);
}

/** Forget every prompt of an object (clear or remove). */
export function forgetObject(state: PromptsState, objectId: number): PromptsState {
  const prefix = `${objectId}:`;
  return { byKey: Object.fromEntries(Object.entries(state.byKey).filter(([k]) => !k.startsWith(prefix))) };
}

/**
 * The prompt sets that differ between two states (what to send to bring
 * the server from `from` to `to`), as edits carrying `to`'s prompt.
 */
export function diffPrompts(from: PromptsState, to: PromptsState): PromptEdit[] {
  const edits: PromptEdit[] = [];
  for (const key of new Set([...Object.keys(from.byKey), ...Object.keys(to.byKey)])) {
    if (from.byKey[key] === to.byKey[key]) continue;
    const [objectId, frameIndex] = key.split(':').map(Number);
    edits.push({ objectId, frameIndex, prompt: to.byKey[key] ?? emptyFramePrompt });
  }
  return edits.sort((a, b) => a.frameIndex - b.frameIndex || a.objectId - b.objectId);
}

/** Every prompt set as an edit, frame by frame (to replay a session). */
export function allPrompts(state: PromptsState): PromptEdit[] {
  return diffPrompts(emptyPrompts, state);
}

/** Frames that carry prompts (of one object, or of any), ascending. */
export function promptedFrames(state: PromptsState, objectId?: number): number[] {
  const frames = new Set<number>();
  for (const key of Object.keys(state.byKey)) {
    const [obj, frame] = key.split(':').map(Number);
    if (objectId === undefined || obj === objectId) frames.add(frame);
  }
  return [...frames].sort((a, b) => a - b);
}

/** Objects that carry any prompt. */
export function promptedObjects(state: PromptsState): number[] {
  const ids = new Set<number>();
  for (const key of Object.keys(state.byKey)) ids.add(Number(key.split(':')[0]));
  return [...ids].sort((a, b) => a - b);
}

/** What the server must be told for a frame's prompt set. */
export type PromptRequest =
  | { kind: 'clear' }
  | { kind: 'points'; points: [number, number][]; labels: number[] }
  | { kind: 'box'; box: PromptBox; points: [number, number][]; labels: number[] };

export function toRequest(prompt: FramePrompt): PromptRequest {
  const points = prompt.points.map((p): [number, number] => [p.x, p.y]);
  const labels = prompt.points.map((p) => p.label);
  if (prompt.box) return { kind: 'box', box: prompt.box, points, labels };
  if (points.length > 0) return { kind: 'points', points, labels };
  return { kind: 'clear' };
}
