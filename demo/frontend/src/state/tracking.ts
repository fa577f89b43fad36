/**
 * Progress of one tracking run (one or more propagation passes): frames
 * done out of total, and frames per second and time left from the measured
 * arrival times of the latest frames.
 */

export type TrackingStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'error';

/** How many recent frame arrivals the rate is measured over. */
export const RATE_WINDOW = 8;

export interface TrackingProgress {
  status: TrackingStatus;
  /** Distinct frames received so far. */
  done: number;
  /** Distinct frames planned, over all passes. */
  total: number;
  /** ms timestamps (performance.now()) of start and of the latest frame. */
  startedAt: number;
  updatedAt: number;
  /** Arrival times (ms) of the latest frames, oldest first, at most RATE_WINDOW + 1. */
  recent: readonly number[];
  lastFrameIndex: number | null;
  error: string | null;
}

export const idleProgress: TrackingProgress = {
  status: 'idle',
  done: 0,
  total: 0,
  startedAt: 0,
  updatedAt: 0,
  recent: [],
  lastFrameIndex: null,
  error: null,
};

export function startProgress(total: number, now: number): TrackingProgress {
  return { ...idleProgress, status: 'running', total, startedAt: now, updatedAt: now };
}

/**
 * One more frame arrived at `now` (ms). `firstVisit`: false for a frame
 * this run had already sent (passes may overlap): it counts for the rate,
 * not for the frames done.
 */
export function onFrameReceived(p: TrackingProgress, frameIndex: number, now: number, firstVisit = true): TrackingProgress {
  const done = p.done + (firstVisit ? 1 : 0);
  const recent = [...p.recent, now].slice(-(RATE_WINDOW + 1));
  return { ...p, done, total: Math.max(p.total, done), updatedAt: now, recent, lastFrameIndex: frameIndex };
}

export function finishProgress(p: TrackingProgress, status: Exclude<TrackingStatus, 'idle' | 'running'>, now: number, error: string | null = null): TrackingProgress {
  // A completed run is complete even if the plan was off.
  const done = status === 'done' ? Math.max(p.done, p.total) : p.done;
  const total = status === 'done' ? done : p.total;
  return { ...p, status, done, total, updatedAt: now, error };
}

/** Percentage 0..100, rounded down so 100 means really finished. */
export function percent(p: TrackingProgress): number {
  if (p.total <= 0) return p.status === 'done' ? 100 : 0;
  return Math.min(100, Math.floor((100 * p.done) / p.total));
}

/**
 * Frames per second over the latest arrivals (intervals between frames, so
 * the first frame's start-up cost does not count); 0 until two frames came.
 */
export function framesPerSecond(p: TrackingProgress): number {
  const r = p.recent;
  if (r.length < 2) return 0;
  const seconds = (r[r.length - 1] - r[0]) / 1000;
  return seconds > 0 ? (r.length - 1) / seconds : 0;
}

/** Frames per second over the whole run, start-up included: what a finished run reports. */
export function runFramesPerSecond(p: TrackingProgress): number {
  const seconds = (p.updatedAt - p.startedAt) / 1000;
  return seconds > 0 && p.done > 0 ? p.done / seconds : 0;
}

/** Seconds left at the measured rate, or null when unknown. */
export function secondsLeft(p: TrackingProgress): number | null {
  const fps = framesPerSecond(p);
  if (p.status !== 'running' || fps <= 0) return null;
  return Math.max(0, (p.total - p.done) / fps);
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  return m > 0 ? `${m}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** A rate for people: 2 significant digits below 10/s, so 0.04 frames/s does not read "0.0". */
export function formatRate(fps: number): string {
  if (fps >= 10) return `${fps.toFixed(0)} frames/s`;
  if (fps >= 0.1) return `${fps.toFixed(1)} frames/s`;
  return `${(60 * fps).toFixed(1)} frames/min`;
}
