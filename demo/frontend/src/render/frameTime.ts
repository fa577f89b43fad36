/**
 * Frame index <-> media time for the server's constant-frame-rate videos,
 * whose frame i is presented at i / fps seconds.
 */

/** Seek target that lands inside frame i (its middle), safe from float rounding. */
export function timeForFrame(frameIndex: number, fps: number): number {
  return (frameIndex + 0.5) / fps;
}

/** Frame shown at media time t (a presentation timestamp or a currentTime). */
export function frameForTime(t: number, fps: number, numFrames: number): number {
  // The epsilon absorbs timestamps such as 0.039999 for frame 1 at 25 fps.
  const f = Math.floor(t * fps + 1e-3);
  return Math.min(Math.max(f, 0), Math.max(numFrames - 1, 0));
}

export function clampFrame(frameIndex: number, numFrames: number): number {
  return Math.min(Math.max(Math.round(frameIndex), 0), Math.max(numFrames - 1, 0));
}

export function formatTime(seconds: number): string {
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  const rest = (s - m * 60).toFixed(2).padStart(5, '0');
  return `${m}:${rest}`;
}
