/**
 * "Segment everything" proposals on one frame: the run's status and
 * progress, then the proposed masks (best first) until each is kept (it
 * becomes an object) or dropped. Pure functions over an immutable state.
 */
import type { Proposal, SegmentEverythingResult } from '../api/segmentEverything';
import { OBJECT_PALETTE } from './objects';

export interface ProposalItem {
  /** Stable within one run: the proposal's rank (0 = best). */
  key: number;
  proposal: Proposal;
  /** Overlay colour while it is only proposed. */
  color: string;
}

export interface ProposalsState {
  status: 'idle' | 'running' | 'ready' | 'error';
  frameIndex: number | null;
  /** Batches of point prompts done / in all while running. */
  done: number;
  total: number;
  items: ProposalItem[];
  /** Masks the generator found before the server made them disjoint. */
  candidates: number;
  error: string | null;
  /** When the run started and its progress last moved (ms, performance.now()), for the time left. */
  startedAt: number;
  updatedAt: number;
  /** The proposal whose row the pointer or focus is on: drawn alone. */
  highlighted: number | null;
}

export const idleProposals: ProposalsState = {
  status: 'idle', frameIndex: null, done: 0, total: 0, items: [], candidates: 0, error: null, startedAt: 0, updatedAt: 0, highlighted: null,
};

export function startRun(frameIndex: number, now = 0): ProposalsState {
  return { ...idleProposals, status: 'running', frameIndex, startedAt: now, updatedAt: now };
}

/** Seconds the running generator still needs at its rate so far; null until a batch is done. */
export function secondsLeft(state: ProposalsState): number | null {
  if (state.status !== 'running' || state.done <= 0 || state.total <= 0) return null;
  return (((state.updatedAt - state.startedAt) / state.done) * (state.total - state.done)) / 1000;
}

/** Highlight one proposal (null: none); an unknown key highlights nothing. */
export function highlight(state: ProposalsState, key: number | null): ProposalsState {
  const next = key !== null && state.items.some((i) => i.key === key) ? key : null;
  return next === state.highlighted ? state : { ...state, highlighted: next };
}

/** Progress of the running generator; ignored once the run has ended or if it goes backwards. */
export function withProgress(state: ProposalsState, done: number, total: number, now = state.updatedAt): ProposalsState {
  if (state.status !== 'running' || total <= 0 || done < state.done) return state;
  return { ...state, done: Math.min(done, total), total, updatedAt: done > state.done ? now : state.updatedAt };
}

export function progressPercent(state: ProposalsState): number {
  return state.total > 0 ? Math.round((100 * state.done) / state.total) : 0;
}

/**
 * The server's answer: proposals best first (the server sorts them by score).
 * Their colours are those no object has yet (`inUse`), so a proposal never
 * looks like an existing object; a kept one keeps its colour.
 */
export function fromResult(result: SegmentEverythingResult, inUse: readonly string[] = []): ProposalsState {
  const sorted = [...result.proposals].sort((a, b) => b.score - a.score);
  const taken = new Set(inUse.map((c) => c.toLowerCase()));
  const free = OBJECT_PALETTE.filter((c) => !taken.has(c.toLowerCase()));
  const palette = free.length > 0 ? free : OBJECT_PALETTE;
  return {
    ...idleProposals,
    status: 'ready',
    frameIndex: result.frameIndex,
    candidates: result.candidates,
    items: sorted.map((proposal, key) => ({ key, proposal, color: palette[key % palette.length] })),
  };
}

export function failed(state: ProposalsState, error: string): ProposalsState {
  return { ...state, status: 'error', items: [], error };
}

/** Remove the items with these keys; returns the new state and the removed items (best first). */
export function takeProposals(state: ProposalsState, keys: readonly number[]): [ProposalsState, ProposalItem[]] {
  const wanted = new Set(keys);
  const taken = state.items.filter((i) => wanted.has(i.key));
  const items = state.items.filter((i) => !wanted.has(i.key));
  const status = items.length === 0 && state.status === 'ready' ? 'idle' : state.status;
  const highlighted = state.highlighted !== null && wanted.has(state.highlighted) ? null : state.highlighted;
  return [{ ...state, items, status, highlighted, frameIndex: status === 'idle' ? null : state.frameIndex }, taken];
}

/**
 * Put taken items back (an undone "keep"), in rank order, unless a newer
 * run has replaced this frame's proposals since: then they are gone for good.
 */
export function returnProposals(state: ProposalsState, frameIndex: number, items: readonly ProposalItem[]): ProposalsState {
  if (items.length === 0) return state;
  const sameRun = state.status === 'ready' && state.frameIndex === frameIndex;
  if (!sameRun && state.status !== 'idle') return state;
  const present = new Set(state.items.map((i) => i.key));
  const merged = [...state.items, ...items.filter((i) => !present.has(i.key))].sort((a, b) => a.key - b.key);
  return { ...state, status: 'ready', frameIndex, items: merged, error: null };
}

/** The proposals shown on `frameIndex` (none on other frames); only the highlighted one while there is one. */
export function proposalsOnFrame(state: ProposalsState, frameIndex: number): ProposalItem[] {
  if (state.frameIndex !== frameIndex) return [];
  return state.highlighted === null ? state.items : state.items.filter((i) => i.key === state.highlighted);
}
