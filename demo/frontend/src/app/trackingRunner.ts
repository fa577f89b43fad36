/**
 * "Track": plans which frames need tracking (state/trackPlan.ts), streams
 * each pass from the server into the video's mask store, and keeps the
 * progress figures; Cancel aborts the stream and tells the server.
 */
import * as ops from '../api/operations';
import { streamPropagation } from '../api/propagate';
import { framesCovered, planTracking } from '../state/trackPlan';
import * as promptsState from '../state/prompts';
import { inRange } from '../state/ranges';
import { finishProgress, onFrameReceived, startProgress } from '../state/tracking';
import type { PageHost } from './host';
import type { SessionKeeper } from './sessions';
import type { VideoWork } from './store';

/** How often (ms) the view jumps to the newest tracked frame. */
const FOLLOW_EVERY_MS = 150;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What tracking needs of the page beyond the basics. */
export interface TrackingHost extends PageHost {
  readonly sessions: Pick<SessionKeeper, 'current' | 'sessionLost'>;
  pause(): void;
  /** Resolves once the server has every prompt sent so far. */
  promptsSettled(): Promise<void>;
  masksChanged(work: VideoWork): void;
  showTrackedFrame(frame: number): void;
}

export class TrackingRunner {
  private abort: AbortController | null = null;
  private lastFollowAt = 0;
  private readonly c: TrackingHost;

  constructor(controller: TrackingHost) {
    this.c = controller;
  }

  get running(): boolean {
    return this.abort !== null;
  }

  async track(): Promise<void> {
    const c = this.c;
    const { sessionId, video, tracking, objects } = c.getState();
    const work = c.sessions.current();
    if (tracking.status === 'running' || this.abort) return;
    if (c.getState().access === 'view') {
      c.notify('This link is view-only: you can play, apply effects and export, but not track.', 'error');
      return;
    }
    if (!sessionId || !video || !work) {
      c.notify('Pick a video first.', 'error');
      return;
    }
    await c.promptsSettled(); // the server must have every prompt before it propagates
    const prompts = c.getState().prompts;
    const promptFrames = new Map<number, number[]>();
    for (const o of objects.objects) {
      const frames = promptsState.promptedFrames(prompts, o.id);
      if (frames.length > 0) promptFrames.set(o.id, frames);
    }
    if (promptFrames.size === 0) {
      c.notify('Click an object first: tracking needs at least one prompt.', 'info', 'hint');
      return;
    }
    // Frames outside an object's range need nothing (the server keeps no mask there).
    const objectById = new Map(objects.objects.map((o) => [o.id, o]));
    const passes = planTracking(video.numFrames, promptFrames, (o, f) => inRange(objectById.get(o), f) && !work.masks.isFresh(f, o));
    if (passes.length === 0) {
      c.notify('Every frame is already tracked with your latest prompts: nothing to redo.');
      return;
    }
    const abort = new AbortController();
    this.abort = abort;
    c.pause();
    const planned = framesCovered(video.numFrames, passes);
    const received = new Set<number>();
    c.set({ tracking: startProgress(planned, performance.now()) });
    c.endNotice('hint');
    c.endNotice('tracking');
    try {
      for (const pass of passes) {
        const current = c.getState().sessionId;
        if (!current) throw new Error('no session');
        const result = await streamPropagation(c.client.baseUrl, {
          sessionId: current,
          startFrameIndex: pass.start,
          direction: pass.direction,
          signal: abort.signal,
          onFrame: (list) => {
            work.masks.setFrame(list.frameIndex, list.rleMaskList.filter((m) => inRange(objectById.get(m.objectId), list.frameIndex)));
            c.masksChanged(work);
            const firstVisit = !received.has(list.frameIndex);
            received.add(list.frameIndex);
            c.set({ tracking: onFrameReceived(c.getState().tracking, list.frameIndex, performance.now(), firstVisit) });
            this.follow(list.frameIndex);
          },
        });
        if (abort.signal.aborted) return;
        if (!result.closed) {
          c.set({ tracking: finishProgress(c.getState().tracking, 'error', performance.now(), 'The stream ended early.') });
          c.notify('Tracking stopped early: the server closed the stream. Track again to finish (only the missing frames are redone).', 'error', 'tracking');
          return;
        }
      }
      c.set({ tracking: finishProgress(c.getState().tracking, 'done', performance.now()) });
      const frames = received.size;
      const from = passes.map((p) => `${p.direction === 'both' ? 'both ways' : p.direction} from frame ${p.start}`).join(', then ');
      c.notify(`Tracking done (${frames} frames, ${from}). Click on any frame to refine, then track again.`);
    } catch (err) {
      if (abort.signal.aborted) return;
      c.set({ tracking: finishProgress(c.getState().tracking, 'error', performance.now(), errorText(err)) });
      if (await c.sessions.sessionLost(work, err, 'while tracking')) return;
      c.fail(err, 'Tracking failed');
    } finally {
      if (this.abort === abort) this.abort = null;
    }
  }

  /** Show the newest tracked frame, a few times a second at most. */
  private follow(frame: number): void {
    const now = performance.now();
    if (now - this.lastFollowAt < FOLLOW_EVERY_MS) return;
    this.lastFollowAt = now;
    this.c.showTrackedFrame(frame);
  }

  cancel(): void {
    const abort = this.abort;
    if (!abort) return;
    this.abort = null;
    abort.abort();
    const c = this.c;
    const sessionId = c.getState().sessionId;
    if (sessionId) ops.cancelPropagateInVideo(c.client, sessionId).catch(() => undefined);
    c.set({ tracking: finishProgress(c.getState().tracking, 'cancelled', performance.now()) });
    c.notify('Tracking cancelled. Masks received so far are kept; Track again continues where it stopped.');
  }
}
