/**
 * "Segment everything" on the current frame: runs the server's automatic
 * mask generator (polling its progress, cancellable), holds the proposals
 * until the user keeps or drops them, and hands kept ones to the
 * controller (`keepMasks`: new objects prompted by their masks, one undo
 * step, which also puts the proposals back). Proposals belong to a video, like the rest of its work: switching
 * videos and back shows them again, and a run still going when the user
 * switched lands on its own video. Proposals not yet kept or dropped are
 * saved in the browser (pageMemory.ts): a reload shows them again.
 */
import { cancelSegmentEverything, fetchSegmentEverythingProgress, segmentEverything, type SegmentEverythingParams } from '../api/segmentEverything';
import {
  failed, fromResult, highlight, idleProposals, returnProposals, startRun, takeProposals, withProgress, type ProposalsState,
} from '../state/proposals';
import { promptedObjects } from '../state/prompts';
import type { RleMask } from '../render/rle';
import type { PageHost } from './host';
import { loadProposals, saveProposals } from './pageMemory';

const POLL_MS = 400;

/** What the user sets in the panel. */
export interface EverythingSettings {
  pointsPerSide: number;
  minScore: number;
}

export const DENSITIES = [8, 16, 32] as const;

/** A run in flight: which video and session it is for, and whether a cancel must be repeated. */
interface Run {
  video: string;
  sessionId: string;
  /** A cancel sent before the server had started the run would be missed: repeat it once it runs. */
  cancelPending: boolean;
}

/** What segment everything needs of the page beyond the basics. */
export interface EverythingHost extends PageHost {
  pause(): void;
  /** Make objects of kept masks (one undo step, whose undo calls `undoAlso`); returns how many. */
  keepMasks(frame: number, masks: readonly RleMask[], undoAlso?: (kept: number) => void, colors?: readonly string[]): number;
}

export class EverythingStore {
  /** Proposals by video path (absent: idle). */
  private readonly byVideo = new Map<string, ProposalsState>();
  private readonly runs = new Map<string, Run>();
  private readonly listeners = new Set<() => void>();
  private shownVideo: string | null = null;

  constructor(private readonly c: EverythingHost) {
    for (const [video, saved] of Object.entries(loadProposals())) {
      this.byVideo.set(video, { ...idleProposals, status: 'ready', frameIndex: saved.frameIndex, candidates: saved.candidates, items: saved.items });
    }
    // Another video opened: its own proposals show.
    c.subscribe(() => {
      const path = this.currentVideo();
      if (path === this.shownVideo) return;
      this.shownVideo = path;
      this.emit();
    });
  }

  private currentVideo(): string | null {
    return this.c.getState().video?.path ?? null;
  }

  /** The open video's proposals (the same object until they change, as React wants). */
  getState = (): ProposalsState => {
    const path = this.currentVideo();
    return (path && this.byVideo.get(path)) || idleProposals;
  };

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private emit(): void {
    for (const l of this.listeners) l();
  }

  private setFor(video: string, state: ProposalsState): void {
    const before = this.byVideo.get(video);
    if (state === idleProposals) this.byVideo.delete(video);
    else this.byVideo.set(video, state);
    // Saved when the proposals themselves change (not their progress or highlight).
    if (before?.items !== state.items || before?.status !== state.status) {
      const waiting = state.status === 'ready' && state.items.length > 0 && state.frameIndex !== null;
      saveProposals(video, waiting ? { frameIndex: state.frameIndex as number, candidates: state.candidates, items: state.items } : null);
    }
    if (video === this.currentVideo()) this.emit();
  }

  private stateOf(video: string): ProposalsState {
    return this.byVideo.get(video) ?? idleProposals;
  }

  /** Objects the server may still accept. */
  private freeSlots(): number {
    return this.c.limits.maxObjects - promptedObjects(this.c.getState().prompts).length;
  }

  async run(settings: EverythingSettings): Promise<void> {
    const st = this.c.getState();
    const video = st.video?.path;
    if (!video || !st.sessionId) {
      this.c.notify('No session: pick a video first.', 'error');
      return;
    }
    if (this.runs.has(video)) return;
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
    const run: Run = { video, sessionId, cancelPending: false };
    this.runs.set(video, run);
    this.c.pause();
    this.setFor(video, startRun(frame, performance.now()));
    const params: SegmentEverythingParams = { pointsPerSide: settings.pointsPerSide, minScore: settings.minScore, maxObjects: free };
    if (st.serverInfo?.randomWeights) {
      // Random weights: stability and box overlap say nothing, and near-identical
      // masks would all be de-duplicated away; let the score-first assignment decide.
      Object.assign(params, { minStability: 0, boxNmsThresh: 1 });
    }
    const poll = setInterval(() => {
      fetchSegmentEverythingProgress(this.c.client, sessionId)
        .then((p) => {
          if (this.runs.get(video) !== run || !p.running) return;
          this.setFor(video, withProgress(this.stateOf(video), p.done, p.total, performance.now()));
          if (run.cancelPending) {
            run.cancelPending = false;
            cancelSegmentEverything(this.c.client, sessionId).catch(() => undefined);
          }
        })
        .catch(() => undefined);
    }, POLL_MS);
    const here = () => this.currentVideo() === video;
    try {
      const result = await segmentEverything(this.c.client, sessionId, frame, params);
      if (result.cancelled) {
        this.setFor(video, idleProposals);
        if (here()) this.c.notify('Segment everything cancelled.');
      } else if (result.proposals.length === 0) {
        this.setFor(video, idleProposals);
        if (here()) this.c.notify(`Segment everything found no objects on frame ${frame} (${result.candidates} candidate masks); try a lower minimum score or a higher density.`);
      } else {
        this.setFor(video, fromResult(result, this.c.getState().objects.objects.map((o) => o.color)));
        if (here()) this.c.notify(`${result.proposals.length} proposals on frame ${frame}: keep or drop each (or keep all), then track.`);
      }
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      this.setFor(video, failed(this.stateOf(video), text));
      if (here()) this.c.notify(`Segment everything failed: ${text}`, 'error');
    } finally {
      clearInterval(poll);
      this.runs.delete(video);
    }
  }

  /** Cancel the open video's run (a no-op when none runs). */
  cancel(): void {
    const video = this.currentVideo();
    const run = video ? this.runs.get(video) : undefined;
    if (!run) return;
    run.cancelPending = true;
    cancelSegmentEverything(this.c.client, run.sessionId).catch((err) => this.c.notify(`Could not cancel: ${String(err)}`, 'error'));
  }

  drop(keys: readonly number[]): void {
    const video = this.currentVideo();
    if (video) this.setFor(video, takeProposals(this.stateOf(video), keys)[0]);
  }

  dropAll(): void {
    this.drop(this.getState().items.map((i) => i.key));
  }

  /**
   * Keep proposals: each becomes a new object prompted by its mask on the
   * proposals' frame. Those the controller could not take (the object
   * limit, tracking running) stay proposed.
   */
  keep(keys: readonly number[]): void {
    const video = this.currentVideo();
    const state = this.getState();
    if (!video || state.frameIndex === null) return;
    const frame = state.frameIndex;
    const [, taken] = takeProposals(state, keys);
    // Undoing the keep puts the proposals it took back on their frame.
    const putBack = (kept: number) => this.setFor(video, returnProposals(this.stateOf(video), frame, taken.slice(0, kept)));
    const made = this.c.keepMasks(frame, taken.map((i) => i.proposal.rleMask), putBack, taken.map((i) => i.color));
    if (made > 0) this.setFor(video, takeProposals(state, taken.slice(0, made).map((i) => i.key))[0]);
  }

  /** The row under the pointer or focus: its mask is drawn alone (null: all again). */
  highlight(key: number | null): void {
    const video = this.currentVideo();
    if (video) this.setFor(video, highlight(this.stateOf(video), key));
  }

  keepAll(): void {
    this.keep(this.getState().items.map((i) => i.key));
  }
}
