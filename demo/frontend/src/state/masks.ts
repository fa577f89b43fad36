/**
 * Masks the server returned, per frame and object, each marked fresh or
 * stale. Tracking streams in one frame at a time, so the store is mutable
 * and carries a version number that React can watch instead of copying
 * every frame on each update.
 *
 * Stale: the mask was computed before the latest prompt change that can
 * affect it; it stays visible (dimmed) until tracking recomputes it.
 */
import { rleArea, type RleMask } from '../render/rle';

export interface ObjectMask {
  objectId: number;
  rleMask: RleMask;
}

interface Entry {
  rle: RleMask;
  stale: boolean;
}

export class MaskStore {
  private readonly frames = new Map<number, Map<number, Entry>>();
  private versionCounter = 0;
  /** area > 0 per RLE, memoised: exports and the timeline ask often. */
  private readonly nonEmpty = new WeakMap<RleMask, boolean>();

  /** Bumped by every change. */
  get version(): number {
    return this.versionCounter;
  }

  /** Masks of a frame, by object id (empty when none). */
  frame(frameIndex: number): ReadonlyMap<number, RleMask> {
    const out = new Map<number, RleMask>();
    for (const [id, e] of this.frames.get(frameIndex) ?? []) out.set(id, e.rle);
    return out;
  }

  get(frameIndex: number, objectId: number): RleMask | undefined {
    return this.frames.get(frameIndex)?.get(objectId)?.rle;
  }

  isStale(frameIndex: number, objectId: number): boolean {
    return this.frames.get(frameIndex)?.get(objectId)?.stale ?? false;
  }

  /** Does the object have a mask on this frame that is neither stale nor missing? */
  isFresh(frameIndex: number, objectId: number): boolean {
    const e = this.frames.get(frameIndex)?.get(objectId);
    return e !== undefined && !e.stale;
  }

  /**
   * Set the masks of one frame, fresh. `replaceAll` (the server sent every
   * object of the frame) drops objects it does not list.
   */
  setFrame(frameIndex: number, masks: readonly ObjectMask[], replaceAll = true): void {
    let frame = this.frames.get(frameIndex);
    if (!frame || replaceAll) {
      frame = new Map();
      this.frames.set(frameIndex, frame);
    }
    for (const m of masks) frame.set(m.objectId, { rle: m.rleMask, stale: false });
    if (frame.size === 0) this.frames.delete(frameIndex);
    this.versionCounter++;
  }

  /** Put back masks kept aside (undo of a removal), marked stale. */
  restore(masks: readonly SavedMask[]): void {
    for (const m of masks) {
      let frame = this.frames.get(m.frameIndex);
      if (!frame) {
        frame = new Map();
        this.frames.set(m.frameIndex, frame);
      }
      if (!frame.has(m.objectId)) frame.set(m.objectId, { rle: m.rle, stale: true });
    }
    this.versionCounter++;
  }

  /** Mark an object's masks on frames [from, to] (inclusive) stale. */
  markStale(objectId: number, from: number, to: number): void {
    for (const [index, frame] of this.frames) {
      if (index < from || index > to) continue;
      const e = frame.get(objectId);
      if (e) e.stale = true;
    }
    this.versionCounter++;
  }

  /** Make exactly `frames` of an object's masks stale, the others fresh (to take back marks an edit made). */
  setStaleFrames(objectId: number, frames: readonly number[]): void {
    const stale = new Set(frames);
    for (const [index, frame] of this.frames) {
      const e = frame.get(objectId);
      if (e) e.stale = stale.has(index);
    }
    this.versionCounter++;
  }

  /** Mark every mask stale except those on `keepFrames` (the server lost its tracking memory). */
  markAllStale(keep: (frameIndex: number, objectId: number) => boolean = () => false): void {
    for (const [index, frame] of this.frames) {
      for (const [id, e] of frame) if (!keep(index, id)) e.stale = true;
    }
    this.versionCounter++;
  }

  /** Every mask of one object, to keep aside before it is dropped. */
  objectMasks(objectId: number): SavedMask[] {
    const out: SavedMask[] = [];
    for (const [frameIndex, frame] of this.frames) {
      const e = frame.get(objectId);
      if (e) out.push({ frameIndex, objectId, rle: e.rle });
    }
    return out;
  }

  /** Drop one object's mask on one frame. */
  removeMask(frameIndex: number, objectId: number): void {
    const frame = this.frames.get(frameIndex);
    if (!frame?.delete(objectId)) return;
    if (frame.size === 0) this.frames.delete(frameIndex);
    this.versionCounter++;
  }

  removeObject(objectId: number): void {
    for (const [index, frame] of this.frames) {
      frame.delete(objectId);
      if (frame.size === 0) this.frames.delete(index);
    }
    this.versionCounter++;
  }

  clear(): void {
    this.frames.clear();
    this.versionCounter++;
  }

  /** Frames that hold at least one mask, ascending. */
  frameIndices(): number[] {
    return [...this.frames.keys()].sort((a, b) => a - b);
  }

  /** Does the object have a non-empty mask on any frame? */
  hasPixels(objectId: number): boolean {
    for (const frame of this.frames.values()) {
      const e = frame.get(objectId);
      if (e && this.isNonEmpty(e.rle)) return true;
    }
    return false;
  }

  private isNonEmpty(rle: RleMask): boolean {
    let v = this.nonEmpty.get(rle);
    if (v === undefined) {
      v = rleArea(rle) > 0;
      this.nonEmpty.set(rle, v);
    }
    return v;
  }

  /**
   * Per frame 0..numFrames-1 what the object has: 0 nothing, 1 a fresh
   * mask, 2 a stale mask (for the timeline).
   */
  laneOf(objectId: number, numFrames: number): Uint8Array {
    const lane = new Uint8Array(numFrames);
    for (const [index, frame] of this.frames) {
      const e = frame.get(objectId);
      if (e && index >= 0 && index < numFrames) lane[index] = e.stale ? 2 : 1;
    }
    return lane;
  }

  /** Stale frames per object (to save the page state). */
  staleFrames(): Record<number, number[]> {
    const out: Record<number, number[]> = {};
    for (const [index, frame] of this.frames) {
      for (const [id, e] of frame) if (e.stale) (out[id] ??= []).push(index);
    }
    return out;
  }

  /** Number of (frame, object) masks held. */
  get size(): number {
    let n = 0;
    for (const f of this.frames.values()) n += f.size;
    return n;
  }
}

/** One mask kept aside, e.g. by an undoable removal. */
export interface SavedMask {
  frameIndex: number;
  objectId: number;
  rle: RleMask;
}
