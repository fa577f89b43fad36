/**
 * Which propagation runs a "Track" needs: only the frames a prompt change
 * can affect, in the directions it affects them.
 *
 * Rules (per object with prompts on frames P, earliest p0):
 * - a prompt change on frame f makes the object's masks after f stale
 *   (forward), and those before f too when f is its earliest prompt
 *   (backward: nothing earlier anchors them);
 * - a frame needs tracking when the object has no mask there or a stale one;
 * - forward: the run starts at the latest prompt frame at or before the
 *   first frame that needs it (the server then has the memory it needs),
 *   or at that frame itself when the frames since the prompt are tracked
 *   (a cancelled run goes on where it stopped: the server keeps the
 *   memories of the frames it tracked);
 * - backward: from p0 down to frame 0 when a frame before p0 needs it.
 */

export type Direction = 'forward' | 'backward' | 'both';

export interface TrackPass {
  start: number;
  direction: Direction;
  /** Frames the server streams for this pass (the start frame counts in each direction). */
  frames: number;
}

/** Frames a propagation sends: forward start..n-1, backward start..0; both ways sends the start frame once. */
export function passFrames(numFrames: number, start: number, direction: Direction): number {
  const forward = numFrames - start;
  const backward = start + 1;
  if (direction === 'forward') return forward;
  if (direction === 'backward') return backward;
  return forward + start;
}

/** How many distinct frames the passes visit together (passes may overlap). */
export function framesCovered(numFrames: number, passes: readonly TrackPass[]): number {
  const seen = new Uint8Array(numFrames);
  for (const p of passes) {
    const [from, to] = p.direction === 'forward' ? [p.start, numFrames - 1] : p.direction === 'backward' ? [0, p.start] : [0, numFrames - 1];
    seen.fill(1, from, to + 1);
  }
  return seen.reduce((n, v) => n + v, 0);
}

/**
 * @param promptFrames prompt frames per object id (objects without prompts are ignored)
 * @param needs does the object need tracking on that frame (no mask, or a stale one)?
 */
export function planTracking(
  numFrames: number,
  promptFrames: ReadonlyMap<number, readonly number[]>,
  needs: (objectId: number, frameIndex: number) => boolean,
): TrackPass[] {
  let forwardStart: number | null = null;
  let backwardStart: number | null = null;
  for (const [objectId, frames] of promptFrames) {
    if (frames.length === 0) continue;
    const sorted = [...frames].sort((a, b) => a - b);
    const p0 = sorted[0];
    for (let f = p0; f < numFrames; f++) {
      if (!needs(objectId, f)) continue;
      let anchor = p0;
      for (const p of sorted) if (p <= f) anchor = p;
      // Every frame from p0 to f - 1 is tracked (f is the first that is not): go on from f.
      const start = f > anchor + 1 ? f : anchor;
      forwardStart = forwardStart === null ? start : Math.min(forwardStart, start);
      break;
    }
    for (let f = 0; f < p0; f++) {
      if (needs(objectId, f)) {
        backwardStart = backwardStart === null ? p0 : Math.max(backwardStart, p0);
        break;
      }
    }
  }
  const pass = (start: number, direction: Direction): TrackPass => ({ start, direction, frames: passFrames(numFrames, start, direction) });
  if (forwardStart !== null && backwardStart !== null && forwardStart === backwardStart) return [pass(forwardStart, 'both')];
  const passes: TrackPass[] = [];
  if (forwardStart !== null) passes.push(pass(forwardStart, 'forward'));
  if (backwardStart !== null) passes.push(pass(backwardStart, 'backward'));
  return passes;
}

/**
 * The frames [from, to] of one object that a prompt change on `frame`
 * makes stale, as inclusive ranges (see the rules above).
 * @param otherPromptFrames the object's prompt frames other than `frame`, after the change
 */
export function staleRangesAfterEdit(numFrames: number, frame: number, otherPromptFrames: readonly number[]): [number, number][] {
  const ranges: [number, number][] = [];
  if (frame + 1 <= numFrames - 1) ranges.push([frame + 1, numFrames - 1]);
  const earliestOther = otherPromptFrames.length > 0 ? Math.min(...otherPromptFrames) : Infinity;
  if (frame < earliestOther && frame > 0) ranges.push([0, frame - 1]);
  return ranges;
}
