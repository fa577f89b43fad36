/**
 * "Segment everything" on the current frame: runs the server's automatic
 * mask generator (polling its progress, cancellable), holds the proposals
 * until the user keeps or drops them, and turns kept ones into objects
 * through the controller. A small store of its own beside the
 * DemoController, so the controller only gains `addMaskObjects`.
 */
import { useSyncExternalStore } from 'react';
import { cancelSegmentEverything, fetchSegmentEverythingProgress, segmentEverything, type SegmentEverythingParams } from '../api/segmentEverything';
import type { MaskToDraw } from '../render/effects';
import {
  failed, fromResult, idleProposals, proposalsOnFrame, startRun, takeProposals, withProgress, type ProposalsState,
} from '../state/proposals';
import type { DemoController } from './controller';
import { useController } from './useController';

const POLL_MS = 400;

/** What the user sets in the panel. */
export interface EverythingSettings {
  pointsPerSide: number;
  minScore: number;
}

export const DENSITIES = [8, 16, 32] as const;

export class SegmentEverythingStore {
  private state: ProposalsState = idleProposals;
  private readonly listeners = new Set<() => void>();
  private sessionId: string | null = null;
  private runToken = 0;
  /** A cancel sent before the server had started the run would be missed: repeat it once it runs. */
  private cancelPending = false;

  constructor(private readonly c: DemoController) {
    // A new video (new session) forgets proposals made on the old one.
    c.subscribe(() => {
      const id = c.getState().sessionId;
      if (id === this.sessionId) return;
      this.sessionId = id;
      this.runToken++;
      if (this.state !== idleProposals) this.set(idleProposals);
    });
  }

  getState = (): ProposalsState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(state: ProposalsState): void {
    this.state = state;
    for (const l of this.listeners) l();
  }

  /** Objects the server may still accept. */
  private freeSlots(): number {
    return this.c.limits.maxObjects - this.c.trackedObjectIds().length;
  }

  async run(settings: EverythingSettings): Promise<void> {
    const st = this.c.getState();
    if (this.state.status === 'running') return;
    if (!st.sessionId) {
      this.c.notify('No session: pick a video first.', 'error');
      return;
    }
    if (st.tracking.status === 'running') {
      this.c.notify('Tracking is running: cancel it or wait before segmenting everything.');
      return;
    }
    const free = this.freeSlots();
    if (free <= 0) {
      this.c.notify(`The server tracks at most ${this.c.limits.maxObjects} objects; remove one first.`, 'error');
      return;
    }
    const sessionId = st.sessionId;
    const frame = st.currentFrame;
    const token = ++this.runToken;
    this.cancelPending = false;
    this.c.pause();
    this.set(startRun(frame));
    const params: SegmentEverythingParams = { pointsPerSide: settings.pointsPerSide, minScore: settings.minScore, maxObjects: free };
    if (this.c.getState().serverInfo?.randomWeights) {
      // Random weights: stability and box overlap say nothing, and near-identical
      // masks would all be de-duplicated away; let the score-first assignment decide.
      Object.assign(params, { minStability: 0, boxNmsThresh: 1 });
    }
    const poll = setInterval(() => {
      fetchSegmentEverythingProgress(this.c.client, sessionId)
        .then((p) => {
          if (token !== this.runToken || !p.running) return;
          this.set(withProgress(this.state, p.done, p.total));
          if (this.cancelPending) {
            this.cancelPending = false;
            cancelSegmentEverything(this.c.client, sessionId).catch(() => undefined);
          }
        })
        .catch(() => undefined);
    }, POLL_MS);
    try {
      const result = await segmentEverything(this.c.client, sessionId, frame, params);
      if (token !== this.runToken) return;
      if (result.cancelled) {
        this.set(idleProposals);
        this.c.notify('Segment everything cancelled.');
      } else if (result.proposals.length === 0) {
        this.set(idleProposals);
        this.c.notify(`Segment everything found no objects on frame ${frame} (${result.candidates} candidate masks); try a lower minimum score or a higher density.`);
      } else {
        this.set(fromResult(result));
        this.c.notify(`${result.proposals.length} proposals on frame ${frame}: keep or drop each (or keep all), then track.`);
      }
    } catch (err) {
      if (token !== this.runToken) return;
      const text = err instanceof Error ? err.message : String(err);
      this.set(failed(this.state, text));
      this.c.notify(`Segment everything failed: ${text}`, 'error');
    } finally {
      clearInterval(poll);
    }
  }

  cancel(): void {
    const sessionId = this.c.getState().sessionId;
    if (this.state.status !== 'running' || !sessionId) return;
    this.cancelPending = true;
    cancelSegmentEverything(this.c.client, sessionId).catch((err) => this.c.notify(`Could not cancel: ${String(err)}`, 'error'));
  }

  drop(keys: readonly number[]): void {
    this.set(takeProposals(this.state, keys)[0]);
  }

  dropAll(): void {
    this.drop(this.state.items.map((i) => i.key));
  }

  /** Keep proposals: each becomes a new object prompted by its mask on the proposals' frame. */
  async keep(keys: readonly number[]): Promise<void> {
    const frame = this.state.frameIndex;
    if (frame === null) return;
    const [next, taken] = takeProposals(this.state, keys);
    this.set(next);
    await this.c.addMaskObjects(frame, taken.map((i) => i.proposal.rleMask));
  }

  keepAll(): Promise<void> {
    return this.keep(this.state.items.map((i) => i.key));
  }
}

export function useEverythingState(): ProposalsState {
  const store = useController().everything;
  return useSyncExternalStore(store.subscribe, store.getState);
}

/** Proposals to draw on `frame` (negative ids: they are not objects yet). */
export function proposalMasksOnFrame(c: DemoController, frame: number): MaskToDraw[] {
  return proposalsOnFrame(c.everything.getState(), frame).map((i) => ({ objectId: -1 - i.key, color: i.color, rle: i.proposal.rleMask }));
}
