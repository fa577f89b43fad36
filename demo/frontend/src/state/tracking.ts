/**
 * Progress of one propagation run: frames done out of total, frames per
 * second and time left, from the events of the mask stream.
 */

export type TrackingStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'error';

export interface TrackingProgress {
  status: TrackingStatus;
  /** Parts received so far (a frame visited in both directions counts twice). */
  done: number;
  /** Parts expected; from Frame-Total when sent, otherwise estimated. */
  total: number;
  /** ms timestamps (performance.now()) of start and of the latest frame. */
  startedAt: number;
  updatedAt: number;
  lastFrameIndex: number | null;
  error: string | null;
}

export const idleProgress: TrackingProgress = {
  status: 'idle',
  done: 0,
  total: 0,
  startedAt: 0,
  updatedAt: 0,
  lastFrameIndex: null,
  error: null,
};

/**
 * The official server runs forward from the start frame to the end and then
 * backward to frame 0 (the start frame is visited by both passes).
 */
export function estimateTotal(numFrames: number, startFrame: number): number {
  return startFrame > 0 ? numFrames + 1 : numFrames;
}

export function startProgress(numFrames: number, startFrame: number, now: number): TrackingProgress {
  return { ...idleProgress, status: 'running', total: estimateTotal(numFrames, startFrame), startedAt: now, updatedAt: now };
}

export function onFrameReceived(
  p: TrackingProgress,
  frameIndex: number,
  now: number,
  current?: number,
  total?: number,
): TrackingProgress {
  const done = current ?? p.done + 1;
  const newTotal = total ?? Math.max(p.total, done);
  return { ...p, done, total: newTotal, updatedAt: now, lastFrameIndex: frameIndex };
}

export function finishProgress(p: TrackingProgress, status: Exclude<TrackingStatus, 'idle' | 'running'>, now: number, error: string | null = null): TrackingProgress {
  // A completed run is complete even if the estimate was off.
  const done = status === 'done' ? Math.max(p.done, p.total) : p.done;
  const total = status === 'done' ? done : p.total;
  return { ...p, status, done, total, updatedAt: now, error };
}

/** Percentage 0..100, rounded down so 100 means really finished. */
export function percent(p: TrackingProgress): number {
  if (p.total <= 0) return p.status === 'done' ? 100 : 0;
  return Math.min(100, Math.floor((100 * p.done) / p.total));
}

/** Frames per second since the start; 0 before the first frame. */
export function framesPerSecond(p: TrackingProgress): number {
  const seconds = (p.updatedAt - p.startedAt) / 1000;
  return seconds > 0 && p.done > 0 ? p.done / seconds : 0;
}

/** Seconds left at the current rate, or null when unknown. */
export function secondsLeft(p: TrackingProgress): number | null {
  const fps = framesPerSecond(p);
  if (p.status !== 'running' || fps <= 0) return null;
  return Math.max(0, (p.total - p.done) / fps);
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
