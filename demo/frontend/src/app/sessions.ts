/**
 * Each video's work and its server session: switching videos keeps every
 * video's objects, prompts and masks (each video keeps its own session);
 * a reload resumes the session (masks fetched back from the server, which
 * keeps every session's work in its database, across restarts); a session
 * the server no longer has (expired, unknown) is replaced by a new one into
 * which every prompt is replayed, and the user is told. A share link's work
 * (`?share=<token>`) opens here too, named by its token.
 */
import { ApiError, type GraphQLClient } from '../api/graphql';
import * as ops from '../api/operations';
import { rememberRouteKey, routeKeyOf } from '../api/sessionHeaders';
import type { RleMaskListOnFrame, Video } from '../api/types';
import { fetchWork } from '../api/work';
import { MaskStore } from '../state/masks';
import * as objectsState from '../state/objects';
import * as promptsState from '../state/prompts';
import type { PageHost } from './host';
import { loadWork, saveWorks, showVideoInUrl, type SavedWork } from './pageMemory';
import type { VideoWork } from './store';
import { TabClaims } from './tabClaims';

/**
 * Send one object's prompt set on one frame; an object left without prompts
 * is removed on the server. A mask goes first: clicks or a box on the same
 * frame then refine the mask's result (the server starts from it).
 */
export async function sendEdit(client: GraphQLClient, sessionId: string, edit: promptsState.PromptEdit, objectStillPrompted: boolean): Promise<RleMaskListOnFrame[]> {
  if (!objectStillPrompted) return ops.removeObject(client, sessionId, edit.objectId);
  const { frameIndex, objectId, prompt } = edit;
  const out: RleMaskListOnFrame[] = [];
  if (prompt.mask) out.push(await ops.addMask(client, sessionId, frameIndex, objectId, prompt.mask));
  const req = promptsState.toRequest(prompt);
  if (req.kind === 'points') out.push(await ops.addPoints(client, sessionId, frameIndex, objectId, req.points, req.labels));
  else if (req.kind === 'box') out.push(await ops.addBox(client, sessionId, frameIndex, objectId, req.box, req.points, req.labels));
  else if (!prompt.mask) out.push(await ops.clearPointsInFrame(client, sessionId, frameIndex, objectId));
  return out;
}

/** Did the server answer that it does not have the session (expired, evicted and not stored, unknown)? */
export function isSessionGone(err: unknown): boolean {
  return err instanceof ApiError && err.sessionGone;
}

const SAVE_DELAY_MS = 300;

/** What the session keeper needs of the page beyond the basics. */
export interface SessionHost extends PageHost {
  /** Show a video's work. */
  activate(work: VideoWork): void;
  cancelTracking(): void;
  masksChanged(work: VideoWork): void;
  seek(frame: number): void;
}

export class SessionKeeper {
  private readonly works = new Map<string, VideoWork>();
  private readonly recovering = new Map<VideoWork, Promise<string | null>>();
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly c: SessionHost;
  private readonly claims: TabClaims;

  constructor(controller: SessionHost) {
    this.c = controller;
    controller.subscribe(() => this.scheduleSave());
    this.claims = new TabClaims(() => [...this.works.values()].filter((w) => w.access === 'owner').map((w) => this.view(w).sessionId));
  }

  /** The open video's work (its live fields are in the controller's state). */
  current(): VideoWork | null {
    const path = this.c.getState().video?.path;
    return path ? (this.works.get(path) ?? null) : null;
  }

  isCurrent(work: VideoWork): boolean {
    return this.current() === work;
  }

  /** The live fields of a work, wherever they are kept. */
  view(work: VideoWork): Pick<VideoWork, 'sessionId' | 'objects' | 'prompts'> {
    if (!this.isCurrent(work)) return work;
    const s = this.c.getState();
    return { sessionId: s.sessionId, objects: s.objects, prompts: s.prompts };
  }

  /** Change a work, through the state when it is the open one. */
  update(work: VideoWork, patch: Partial<Pick<VideoWork, 'sessionId' | 'objects' | 'prompts'>>): void {
    if (this.isCurrent(work)) this.c.set(patch);
    else Object.assign(work, patch);
  }

  /** Fold the open video's state back into its work before switching. */
  private stash(): void {
    const work = this.current();
    if (!work) return;
    const s = this.c.getState();
    Object.assign(work, { sessionId: s.sessionId, objects: s.objects, prompts: s.prompts, history: s.history, currentFrame: s.currentFrame });
  }

  /** Open a video: its earlier work if any (this page, or saved before a reload), else a fresh session. */
  async open(video: Video): Promise<void> {
    this.c.cancelTracking();
    this.stash();
    let work = this.works.get(video.path);
    const known = work !== undefined;
    if (!work) {
      work = {
        video, sessionId: null, access: 'owner', objects: objectsState.addObject(objectsState.emptyObjects, this.c.limits.maxObjects),
        prompts: promptsState.emptyPrompts, history: [], masks: new MaskStore(), currentFrame: 0,
      };
      this.works.set(video.path, work);
    }
    work.video = video;
    this.c.activate(work);
    // Sessions of videos left stay open: the server keeps their work (closing would end it and its links).
    showVideoInUrl(video.path, work.access === 'owner' ? null : work.sessionId);
    const prompted = promptsState.promptedObjects(work.prompts).length;
    if (known && work.sessionId) {
      if (prompted > 0) this.c.notify(`Back on ${video.displayName}: ${prompted} object${prompted === 1 ? '' : 's'} with prompts and masks as you left them.`);
      return;
    }
    if (known && prompted > 0) {
      await this.recover(work, null); // its session was closed to make room: replay into a new one
      return;
    }
    const saved = known ? null : loadWork(video.path);
    if (saved?.sessionId) await this.resume(work, saved);
    else await this.start(work);
  }

  /**
   * Open a share link's work: video, objects and prompts as the server keeps
   * them, masks fetched by the token, which names the session from then on.
   * A link that was revoked says so (the server's message) and opens nothing.
   */
  async openShared(token: string): Promise<boolean> {
    this.c.set({ sessionStatus: 'starting' });
    let opened;
    try {
      opened = await fetchWork(this.c.client, token);
    } catch (err) {
      this.c.set({ sessionStatus: 'error' });
      this.c.fail(err, 'Could not open the shared work');
      return false;
    }
    this.c.cancelTracking();
    this.stash();
    const work: VideoWork = {
      video: opened.video, sessionId: opened.sessionId, access: opened.mode, objects: opened.objects,
      prompts: { byKey: opened.prompts }, history: [], masks: new MaskStore(), currentFrame: 0,
    };
    this.works.set(opened.video.path, work);
    this.c.activate(work);
    showVideoInUrl(opened.video.path, opened.mode === 'owner' ? null : opened.sessionId);
    try {
      const lists = await ops.fetchSessionMasks(this.c.client, opened.sessionId);
      for (const list of lists) work.masks.setFrame(list.frameIndex, list.rleMaskList);
      this.c.masksChanged(work);
    } catch (err) {
      this.c.fail(err, 'Could not load the masks of the shared work');
      return false;
    }
    const n = opened.objects.objects.length;
    const how = opened.mode === 'view' ? 'view-only: play, effects and export work; editing does not' : 'editable: your changes are saved with it';
    this.c.notify(`Opened shared work on ${opened.video.displayName} (${n} object${n === 1 ? '' : 's'}); this link is ${how}.`, 'info', 'session');
    return true;
  }

  /**
   * A request of `work` failed: when the server does not have its session
   * (or its share link) any more, carry on (a new session, or the link's
   * message) and say it was handled; false for any other failure.
   * `when`: what the page was doing, for the notice (default: why it is gone).
   */
  async sessionLost(work: VideoWork, err: unknown, when: string | null = null): Promise<boolean> {
    if (!(err instanceof ApiError)) return false;
    if (err.linkGone) {
      this.update(work, { sessionId: null });
      if (this.isCurrent(work)) this.c.set({ sessionStatus: 'error' });
      this.c.notify(err.message, 'error', 'session');
      return true;
    }
    if (!err.sessionGone) return false;
    await this.recover(work, when ?? (err.code === 'NOT_FOUND' ? 'it did not know it' : 'it had expired or was closed'));
    return true;
  }

  private hint(): void {
    const touch = typeof window !== 'undefined' && window.matchMedia?.('(pointer: coarse)').matches;
    this.c.notify(
      touch
        ? 'Tap the object you want to track. Long-press (or "Negative points") marks what is not part of it.'
        : 'Click the object you want to track. Right-click (or Alt+click) marks what is not part of it; drag to draw a box.',
      'info',
      'hint',
    );
  }

  private async start(work: VideoWork): Promise<void> {
    if (this.isCurrent(work)) {
      this.c.set({ sessionStatus: 'starting' });
      this.hint();
    }
    try {
      const sessionId = await ops.startSession(this.c.client, work.video.path);
      this.update(work, { sessionId });
      if (this.isCurrent(work)) this.c.set({ sessionStatus: 'ready' });
    } catch (err) {
      if (this.isCurrent(work)) this.c.set({ sessionStatus: 'error' });
      this.c.fail(err, `Could not open ${work.video.displayName}`);
    }
  }

  /** After a reload: take the saved work back and the server session's masks, or replay. */
  private async resume(work: VideoWork, saved: SavedWork): Promise<void> {
    const prompts: promptsState.PromptsState = { byKey: saved.prompts };
    this.update(work, { objects: saved.objects, prompts, sessionId: saved.sessionId });
    if (saved.sessionId) rememberRouteKey(saved.sessionId, saved.routeKey);
    work.objects = saved.objects;
    work.prompts = prompts;
    this.c.seek(saved.currentFrame);
    this.c.set({ sessionStatus: 'starting' });
    try {
      // Both at once: asking the other tabs waits up to 150 ms for an answer, the masks need not wait for it.
      const [sharedWithTab, lists] = await Promise.all([
        this.claims.heldElsewhere(saved.sessionId as string),
        ops.fetchSessionMasks(this.c.client, saved.sessionId as string),
      ]);
      for (const list of lists) work.masks.setFrame(list.frameIndex, list.rleMaskList);
      for (const [obj, frames] of Object.entries(saved.stale)) for (const f of frames) work.masks.markStale(Number(obj), f, f);
      this.c.masksChanged(work);
      if (sharedWithTab) {
        // Another tab edits that session: this tab takes the masks and continues in a session of its own.
        await this.recover(work, null, 'Another tab of this browser has this video open: this tab copied its work into a session of its own');
        return;
      }
      if (this.isCurrent(work)) this.c.set({ sessionStatus: 'ready' });
      const n = promptsState.promptedObjects(prompts).length;
      this.c.notify(n > 0 ? `Resumed your session on ${work.video.displayName}: ${n} object${n === 1 ? '' : 's'}, prompts and masks restored.` : `Resumed your session on ${work.video.displayName}.`);
    } catch (err) {
      if (!isSessionGone(err)) {
        if (this.isCurrent(work)) this.c.set({ sessionStatus: 'error' });
        this.c.fail(err, 'Could not resume the session');
        return;
      }
      await this.recover(work, 'after the reload');
    }
  }

  /**
   * Replace a session: a new one, every prompt replayed. `dropped` says when
   * the server dropped it (null: this page closed it, or `reason` says why).
   * One recovery at a time per video; resolves to the new session id.
   */
  recover(work: VideoWork, dropped: string | null, reason?: string): Promise<string | null> {
    let running = this.recovering.get(work);
    if (!running) {
      running = this.replay(work, dropped, reason).finally(() => this.recovering.delete(work));
      this.recovering.set(work, running);
    }
    return running;
  }

  private async replay(work: VideoWork, dropped: string | null, reason?: string): Promise<string | null> {
    if (work.access !== 'owner') {
      // A link's holder cannot start the owner's session again: say so and stop.
      this.update(work, { sessionId: null });
      if (this.isCurrent(work)) this.c.set({ sessionStatus: 'error' });
      this.c.notify('The shared work is no longer on the server; ask its owner for a new link.', 'error', 'session');
      return null;
    }
    if (this.isCurrent(work)) {
      this.c.set({ sessionStatus: 'recovering' });
      this.c.notify('Starting a new session for this video and replaying your prompts…', 'info', 'session');
    }
    try {
      const sessionId = await ops.startSession(this.c.client, work.video.path);
      this.update(work, { sessionId });
      const edits = promptsState.allPrompts(this.view(work).prompts);
      for (const edit of edits) {
        const lists = await sendEdit(this.c.client, sessionId, edit, true);
        for (const list of lists) work.masks.setFrame(list.frameIndex, list.rleMaskList, false);
      }
      this.c.masksChanged(work);
      if (this.isCurrent(work)) this.c.set({ sessionStatus: 'ready' });
      const tracked = work.masks.frameIndices().length > new Set(edits.map((e) => e.frameIndex)).size;
      const why = reason ?? (dropped ? `The server had dropped this video's session (${dropped})` : `Reopened ${work.video.displayName}`);
      this.c.notify(
        `${why}. A new session was started and your ${edits.length} prompt set${edits.length === 1 ? ' was' : 's were'} replayed.` +
          (tracked ? ' Masks you had are kept.' : edits.length > 0 ? ' Track again to get masks on the other frames.' : ''),
        'info',
        dropped ? 'session' : 'transient',
      );
      return sessionId;
    } catch (err) {
      if (this.isCurrent(work)) this.c.set({ sessionStatus: 'error' });
      this.c.fail(err, 'Could not restore the session');
      return null;
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.save();
    }, SAVE_DELAY_MS);
  }

  /** Write every video's work to local storage now. */
  save(): void {
    const s = this.c.getState();
    const out: Record<string, Omit<SavedWork, 'savedAt'>> = {};
    for (const [path, work] of this.works) {
      if (work.access !== 'owner') continue; // a link's work reopens from its URL, never over this page's own
      const live = this.isCurrent(work) ? { sessionId: s.sessionId, objects: s.objects, prompts: s.prompts, currentFrame: s.currentFrame } : work;
      const routeKey = live.sessionId ? routeKeyOf(live.sessionId) : null;
      out[path] = { sessionId: live.sessionId, routeKey, objects: live.objects, prompts: live.prompts.byKey, stale: work.masks.staleFrames(), currentFrame: live.currentFrame };
    }
    saveWorks(out, s.video?.path ?? null);
  }
}
