/**
 * Masks the server returned, per frame and object. Tracking streams in one
 * frame at a time, so the store is mutable and carries a version number
 * that React can watch instead of copying every frame on each update.
 */
import type { RleMask } from '../render/rle';

export interface ObjectMask {
  objectId: number;
  rleMask: RleMask;
}

export class MaskStore {
  private readonly frames = new Map<number, Map<number, RleMask>>();
  private versionCounter = 0;

  /** Bumped by every change. */
  get version(): number {
    return this.versionCounter;
  }

  /** Masks of a frame, by object id (empty when none). */
  frame(frameIndex: number): ReadonlyMap<number, RleMask> {
    return this.frames.get(frameIndex) ?? new Map();
  }

  get(frameIndex: number, objectId: number): RleMask | undefined {
    return this.frames.get(frameIndex)?.get(objectId);
  }

  /**
   * Set the masks of one frame. `replaceAll` (the server sent every object of
   * the frame) drops objects it does not list.
   */
  setFrame(frameIndex: number, masks: readonly ObjectMask[], replaceAll = true): void {
    let frame = this.frames.get(frameIndex);
    if (!frame || replaceAll) {
      frame = new Map();
      this.frames.set(frameIndex, frame);
    }
    for (const m of masks) frame.set(m.objectId, m.rleMask);
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

  /** Number of (frame, object) masks held. */
  get size(): number {
    let n = 0;
    for (const f of this.frames.values()) n += f.size;
    return n;
  }
}
