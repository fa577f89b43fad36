/**
 * One undo history for everything a user builds on a video: prompts and
 * objects (add, remove, clear, start over). Each step keeps the whole
 * previous (objects, prompts) pair — both are immutable, so a step costs
 * two references — plus the masks the action dropped, so an undone removal
 * brings its masks back (marked stale until tracked again).
 */
import type { ObjectsState } from './objects';
import type { PromptsState } from './prompts';
import type { SavedMask } from './masks';

export interface Work {
  objects: ObjectsState;
  prompts: PromptsState;
}

export interface UndoStep {
  /** What the step undoes, for the notice ("Undid: Remove Object 2"). */
  label: string;
  before: Work;
  droppedMasks: readonly SavedMask[];
  /** What else undoing puts back, outside the work (e.g. the proposals a "keep" took). */
  undoAlso?: () => void;
}

export type History = readonly UndoStep[];

/** How many undo steps are kept. */
export const HISTORY_LIMIT = 200;

export function pushStep(history: History, step: UndoStep): History {
  return [...history, step].slice(-HISTORY_LIMIT);
}

/** The last step and the history without it, or null when empty. */
export function popStep(history: History): [UndoStep, History] | null {
  const last = history[history.length - 1];
  return last ? [last, history.slice(0, -1)] : null;
}
