/**
 * The demo's controller: one object that owns the session with the server,
 * the objects, prompts, masks and tracking, and turns user actions into API
 * calls. React components read its state through `useController` and call
 * its methods; the pure rules live in `state/`, the transport in `api/`.
 */
import { apiBaseUrl } from '../api/config';
import { ApiError, GraphQLClient } from '../api/graphql';
import * as ops from '../api/operations';
import { addMask } from '../api/segmentEverything';
import { streamPropagation } from '../api/propagate';
import { DEFAULT_LIMITS, type RleMaskListOnFrame, type ServerInfo, type Video } from '../api/types';
import { uploadVideo } from '../api/upload';
import type { EffectName } from '../render/effects';
import type { RleMask } from '../render/rle';
import { clampFrame } from '../render/frameTime';
import { checkUploadFile } from '../state/uploadCheck';
import { probeVideoDuration } from './mediaProbe';
import { SegmentEverythingStore } from './segmentEverything';
import { MaskStore } from '../state/masks';
import * as objectsState from '../state/objects';
import * as promptsState from '../state/prompts';
import {
  finishProgress, idleProgress, onFrameReceived, startProgress, type TrackingProgress,
} from '../state/tracking';

export interface Notice {
  kind: 'info' | 'error';
  text: string;
}

/** The player's element, driven directly so its events stay the only source of `playing`. */
export interface PlayerHandle {
  play(): void;
  pause(): void;
}

export interface UploadState {
  status: 'idle' | 'checking' | 'uploading' | 'processing' | 'error';
  sent: number;
  total: number;
  error: string | null;
  /** A file refused only for its length: the UI offers to upload its start. */
  tooLong: File | null;
}

export interface DemoState {
  serverInfo: ServerInfo | null;
  videos: Video[];
  video: Video | null;
  sessionId: string | null;
  sessionStatus: 'none' | 'starting' | 'ready' | 'error';
  objects: objectsState.ObjectsState;
  prompts: promptsState.PromptsState;
  /** Bumped whenever `masks` changes. */
  maskVersion: number;
  tracking: TrackingProgress;
  effect: EffectName;
  negativeMode: boolean;
  currentFrame: number;
  /** Mirrors the <video> element's play/pause events; change it with play()/pause(). */
  playing: boolean;
  /** A frame the player should show; the nonce makes repeated requests distinct. */
  seekRequest: { frame: number; nonce: number } | null;
  pendingPrompts: number;
  upload: UploadState;
  notice: Notice | null;
  helpOpen: boolean;
}

const initialState: DemoState = {
  serverInfo: null,
  videos: [],
  video: null,
  sessionId: null,
  sessionStatus: 'none',
  objects: objectsState.emptyObjects,
  prompts: promptsState.emptyPrompts,
  maskVersion: 0,
  tracking: idleProgress,
  effect: 'overlay',
  negativeMode: false,
  currentFrame: 0,
  playing: false,
  seekRequest: null,
  pendingPrompts: 0,
  upload: { status: 'idle', sent: 0, total: 0, error: null, tooLong: null },
  notice: null,
  helpOpen: false,
};

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export class DemoController {
  readonly client: GraphQLClient;
  readonly masks = new MaskStore();
  private state: DemoState = initialState;
  private readonly listeners = new Set<() => void>();
  /** Prompt requests run one after another so the last edit's answer wins. */
  private promptQueue: Promise<void> = Promise.resolve();
  private trackingAbort: AbortController | null = null;
  private uploadAbort: AbortController | null = null;
  private seekNonce = 0;
  private player: PlayerHandle | null = null;
  private lastFollowAt = 0;
  /** Frames where an object was given a whole mask (kept "segment everything" proposals). */
  private readonly maskPrompts = new Map<number, Set<number>>();
  /** "Segment everything" proposals on the current frame (app/segmentEverything.ts). */
  readonly everything: SegmentEverythingStore;

  constructor(baseUrl: string = apiBaseUrl()) {
    this.client = new GraphQLClient(baseUrl);
    this.everything = new SegmentEverythingStore(this); // after the fields it subscribes through
  }

  // ---- store plumbing (for useSyncExternalStore) ----

  getState = (): DemoState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(patch: Partial<DemoState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  get limits() {
    return this.state.serverInfo?.limits ?? DEFAULT_LIMITS;
  }

  notify(text: string, kind: Notice['kind'] = 'info'): void {
    this.set({ notice: { kind, text } });
  }

  dismissNotice(): void {
    this.set({ notice: null });
  }

  private fail(err: unknown, context: string): void {
    if ((err as Error)?.name === 'AbortError') return;
    let text = `${context}: ${errorText(err)}`;
    if (err instanceof ApiError && err.sessionExpired) {
      text = `${err.message} "Reopen video" starts a new session (prompts and masks of the old one are gone).`;
      this.set({ sessionId: null, sessionStatus: 'error' });
    }
    this.notify(text, 'error');
  }

  // ---- start-up and videos ----

  async init(): Promise<void> {
    const [info, videos, defaultVideo] = await Promise.allSettled([
      ops.fetchServerInfo(this.client),
      ops.fetchVideos(this.client),
      ops.fetchDefaultVideo(this.client),
    ]);
    if (info.status === 'fulfilled') this.set({ serverInfo: info.value });
    if (videos.status === 'fulfilled') this.set({ videos: videos.value });
    else this.fail(videos.reason, 'Could not load the video gallery');
    const first = defaultVideo.status === 'fulfilled' && defaultVideo.value ? defaultVideo.value : this.state.videos[0];
    if (first) await this.openVideo(first);
    else if (videos.status === 'fulfilled') this.notify('The server has no videos yet: upload one to start.');
  }

  async refreshVideos(): Promise<void> {
    try {
      this.set({ videos: await ops.fetchVideos(this.client) });
    } catch (err) {
      this.fail(err, 'Could not refresh the gallery');
    }
  }

  /** Switch to a video: a fresh session, one empty object ready for a click. */
  async openVideo(video: Video): Promise<void> {
    this.cancelTracking();
    const old = this.state.sessionId;
    if (old) ops.closeSession(this.client, old).catch(() => undefined);
    this.masks.clear();
    this.maskPrompts.clear();
    this.set({
      video,
      sessionId: null,
      sessionStatus: 'starting',
      objects: objectsState.addObject(objectsState.emptyObjects, this.limits.maxObjects),
      prompts: promptsState.emptyPrompts,
      maskVersion: this.masks.version,
      tracking: idleProgress,
      currentFrame: 0,
      playing: false,
      seekRequest: { frame: 0, nonce: ++this.seekNonce },
      notice: { kind: 'info', text: 'Click the object you want to track. Right-click (or Alt+click) marks what is not part of it; drag to draw a box.' },
    });
    try {
      const sessionId = await ops.startSession(this.client, video.path);
      if (this.state.video !== video) {
        ops.closeSession(this.client, sessionId).catch(() => undefined);
        return;
      }
      this.set({ sessionId, sessionStatus: 'ready' });
    } catch (err) {
      this.set({ sessionStatus: 'error' });
      this.fail(err, `Could not open ${video.path}`);
    }
  }

  /** End the session when the page goes away. */
  closeSessionOnUnload(): void {
    const id = this.state.sessionId;
    if (!id) return;
    const body = JSON.stringify({
      query: 'mutation CloseSession($input: CloseSessionInput!) { closeSession(input: $input) { success } }',
      variables: { input: { sessionId: id } },
    });
    fetch(this.client.endpoint, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, keepalive: true }).catch(() => undefined);
  }

  // ---- player state ----

  setCurrentFrame(frame: number): void {
    if (frame !== this.state.currentFrame) this.set({ currentFrame: frame });
  }

  /** The video stage registers its element; returns the function that unregisters it. */
  attachPlayer(player: PlayerHandle): () => void {
    this.player = player;
    return () => {
      if (this.player === player) this.player = null;
    };
  }

  /** Called from the element's play / pause / ended events only. */
  setPlaying(playing: boolean): void {
    if (playing !== this.state.playing) this.set({ playing });
  }

  play(): void {
    this.player?.play();
  }

  pause(): void {
    this.player?.pause();
  }

  togglePlay(): void {
    if (this.state.playing) this.pause();
    else this.play();
  }

  seek(frame: number): void {
    const n = this.state.video?.numFrames ?? 1;
    const target = clampFrame(frame, n);
    this.pause();
    this.set({ currentFrame: target, seekRequest: { frame: target, nonce: ++this.seekNonce } });
  }

  step(delta: number): void {
    this.seek(this.state.currentFrame + delta);
  }

  setEffect(effect: EffectName): void {
    this.set({ effect });
  }

  setNegativeMode(negativeMode: boolean): void {
    this.set({ negativeMode });
  }

  setHelpOpen(helpOpen: boolean): void {
    this.set({ helpOpen });
  }

  // ---- prompts ----

  private canPrompt(): boolean {
    if (this.state.tracking.status === 'running') {
      this.notify('Tracking is running: cancel it (Esc) or wait before adding prompts.');
      return false;
    }
    if (!this.state.sessionId) {
      this.notify(this.state.sessionStatus === 'starting' ? 'The video is still loading on the server; try again in a moment.' : 'No session: pick a video first.', 'error');
      return false;
    }
    return true;
  }

  /** The selected object, creating one when there is none. */
  private targetObjectId(): number | null {
    let objects = this.state.objects;
    if (objects.selectedId === null) {
      try {
        objects = objectsState.addObject(objects, this.limits.maxObjects);
      } catch (err) {
        this.fail(err, 'Cannot add an object');
        return null;
      }
      this.set({ objects });
    }
    return objects.selectedId;
  }

  /**
   * A click at normalised (x, y) on `frame`: removes the selected object's
   * point under the cursor, else adds a point (negative when asked).
   * tolX/tolY: hit radius in normalised units.
   */
  clickAt(frame: number, x: number, y: number, negative: boolean, tolX: number, tolY: number): void {
    if (!this.canPrompt()) return;
    const objectId = this.targetObjectId();
    if (objectId === null) return;
    const current = promptsState.getPrompt(this.state.prompts, objectId, frame);
    const hit = promptsState.findPointNear(current, x, y, tolX, tolY);
    const [prompts, edit] =
      hit >= 0
        ? promptsState.removePoint(this.state.prompts, objectId, frame, hit)
        : promptsState.addPoint(this.state.prompts, objectId, frame, { x, y, label: negative || this.state.negativeMode ? 0 : 1 });
    this.set({ prompts });
    this.sendPrompt(edit);
  }

  drawBox(frame: number, box: promptsState.PromptBox): void {
    if (!this.canPrompt()) return;
    const objectId = this.targetObjectId();
    if (objectId === null) return;
    const [prompts, edit] = promptsState.setBox(this.state.prompts, objectId, frame, box);
    this.set({ prompts });
    this.sendPrompt(edit);
  }

  clearFrameOfSelected(): void {
    const id = this.state.objects.selectedId;
    if (id === null || !this.canPrompt()) return;
    const [prompts, edit] = promptsState.clearFrame(this.state.prompts, id, this.state.currentFrame);
    this.set({ prompts });
    this.sendPrompt(edit);
  }

  undo(): void {
    if (!this.canPrompt()) return;
    const result = promptsState.undo(this.state.prompts);
    if (!result) {
      this.notify('Nothing to undo.');
      return;
    }
    const [prompts, edit] = result;
    this.set({ prompts });
    if (edit.frameIndex !== this.state.currentFrame) this.seek(edit.frameIndex);
    this.sendPrompt(edit);
  }

  private applyFrameMasks(list: RleMaskListOnFrame, replaceAll = true): void {
    this.masks.setFrame(list.frameIndex, list.rleMaskList, replaceAll);
    this.set({ maskVersion: this.masks.version });
  }

  /** Queue the whole prompt set of one object and frame for the server. */
  private sendPrompt(edit: promptsState.PromptEdit): void {
    const sessionId = this.state.sessionId;
    if (!sessionId) return;
    this.set({ pendingPrompts: this.state.pendingPrompts + 1 });
    this.promptQueue = this.promptQueue.then(async () => {
      try {
        if (this.state.sessionId !== sessionId) return; // video changed meanwhile
        const req = promptsState.toRequest(edit.prompt);
        let result: RleMaskListOnFrame;
        if (req.kind === 'points') {
          result = await ops.addPoints(this.client, sessionId, edit.frameIndex, edit.objectId, req.points, req.labels);
        } else if (req.kind === 'box') {
          result = await ops.addBox(this.client, sessionId, edit.frameIndex, edit.objectId, req.box, req.points, req.labels);
        } else {
          result = await ops.clearPointsInFrame(this.client, sessionId, edit.frameIndex, edit.objectId);
        }
        if (this.state.sessionId === sessionId) this.applyFrameMasks(result);
      } catch (err) {
        this.fail(err, 'The server could not segment this prompt');
      } finally {
        this.set({ pendingPrompts: this.state.pendingPrompts - 1 });
      }
    });
  }

  // ---- objects ----

  addObject(): void {
    try {
      this.set({ objects: objectsState.addObject(this.state.objects, this.limits.maxObjects) });
    } catch (err) {
      this.fail(err, 'Cannot add an object');
    }
  }

  selectObject(id: number): void {
    this.set({ objects: objectsState.selectObject(this.state.objects, id) });
  }

  renameObject(id: number, name: string): void {
    this.set({ objects: objectsState.renameObject(this.state.objects, id, name) });
  }

  recolorObject(id: number, color: string): void {
    this.set({ objects: objectsState.recolorObject(this.state.objects, id, color) });
  }

  /** Drop an object's prompts and masks on the server and here; `keep` leaves its row. */
  private async dropObject(id: number, keep: boolean): Promise<void> {
    if (this.state.tracking.status === 'running') {
      this.notify('Cancel tracking before clearing or removing objects.');
      return;
    }
    const sessionId = this.state.sessionId;
    const hadPrompts = this.trackedObjectIds().includes(id);
    this.maskPrompts.delete(id);
    this.set({
      prompts: promptsState.forgetObject(this.state.prompts, id),
      objects: keep ? this.state.objects : objectsState.removeObject(this.state.objects, id),
    });
    this.masks.removeObject(id);
    this.set({ maskVersion: this.masks.version });
    if (!sessionId || !hadPrompts) return;
    // Wait for queued clicks so the server does not see them after the removal.
    await this.promptQueue;
    try {
      const lists = await ops.removeObject(this.client, sessionId, id);
      for (const list of lists) this.applyFrameMasks(list);
    } catch (err) {
      this.fail(err, 'The server could not remove the object');
    }
  }

  clearObject(id: number): Promise<void> {
    return this.dropObject(id, true);
  }

  removeObject(id: number): Promise<void> {
    return this.dropObject(id, false);
  }

  /** Frames holding prompts of an object: clicks, a box or a whole mask. */
  promptFramesOf(id: number): number[] {
    const frames = new Set([...promptsState.promptedFrames(this.state.prompts, id), ...(this.maskPrompts.get(id) ?? [])]);
    return [...frames].sort((a, b) => a - b);
  }

  /** Objects the server knows: prompted by clicks, a box or a mask. */
  trackedObjectIds(): number[] {
    return [...new Set([...promptsState.promptedObjects(this.state.prompts), ...this.maskPrompts.keys()])];
  }

  /**
   * New objects, each prompted by a whole mask on `frame` (kept "segment
   * everything" proposals). Objects without prompts (the empty one a video
   * starts with) are used first. Returns how many were added.
   */
  async addMaskObjects(frame: number, masks: readonly RleMask[]): Promise<number> {
    if (!this.canPrompt()) return 0;
    const sessionId = this.state.sessionId as string;
    await this.promptQueue;
    let added = 0;
    for (const mask of masks) {
      const tracked = this.trackedObjectIds();
      let id = this.state.objects.objects.find((o) => !tracked.includes(o.id))?.id;
      if (id === undefined) {
        try {
          const objects = objectsState.addObject(this.state.objects, this.limits.maxObjects);
          this.set({ objects });
          id = objects.selectedId as number;
        } catch (err) {
          this.fail(err, 'Cannot add an object');
          break;
        }
      }
      try {
        const result = await addMask(this.client, sessionId, frame, id, mask);
        if (this.state.sessionId !== sessionId) break;
        this.maskPrompts.set(id, new Set([...(this.maskPrompts.get(id) ?? []), frame]));
        this.applyFrameMasks(result);
        added++;
      } catch (err) {
        this.fail(err, 'The server could not add the object');
        break;
      }
    }
    return added;
  }

  // ---- tracking ----

  async track(): Promise<void> {
    const { sessionId, video, tracking } = this.state;
    if (tracking.status === 'running') return;
    if (!sessionId || !video) {
      this.notify('Pick a video first.', 'error');
      return;
    }
    const frames = [...promptsState.promptedFrames(this.state.prompts), ...[...this.maskPrompts.values()].flatMap((f) => [...f])]
      .sort((a, b) => a - b);
    if (frames.length === 0) {
      this.notify('Click an object first: tracking needs at least one prompt.');
      return;
    }
    await this.promptQueue; // the server must have every prompt before it propagates
    const startFrame = frames[0];
    const abort = new AbortController();
    this.trackingAbort = abort;
    this.pause();
    this.set({ tracking: startProgress(video.numFrames, startFrame, performance.now()), notice: null });
    try {
      const result = await streamPropagation(this.client.baseUrl, {
        sessionId,
        startFrameIndex: startFrame,
        signal: abort.signal,
        onFrame: (list, current, total) => {
          this.masks.setFrame(list.frameIndex, list.rleMaskList);
          this.set({
            maskVersion: this.masks.version,
            tracking: onFrameReceived(this.state.tracking, list.frameIndex, performance.now(), current, total),
          });
          this.followTracking(list.frameIndex);
        },
      });
      if (abort.signal.aborted) return;
      const partial = !result.closed && this.state.tracking.done < this.state.tracking.total;
      if (partial) {
        this.set({ tracking: finishProgress(this.state.tracking, 'error', performance.now(), 'The stream ended early.') });
        this.notify('Tracking stopped early: the server closed the stream. Try again.', 'error');
      } else {
        this.set({ tracking: finishProgress(this.state.tracking, 'done', performance.now()) });
        this.notify('Tracking done. Click on any frame to refine, then track again.');
      }
    } catch (err) {
      if (abort.signal.aborted) return;
      this.set({ tracking: finishProgress(this.state.tracking, 'error', performance.now(), errorText(err)) });
      this.fail(err, 'Tracking failed');
    } finally {
      if (this.trackingAbort === abort) this.trackingAbort = null;
    }
  }

  /** Show the newest tracked frame, a few times a second at most. */
  private followTracking(frame: number): void {
    const now = performance.now();
    if (now - this.lastFollowAt < 150) return;
    this.lastFollowAt = now;
    this.set({ currentFrame: frame, seekRequest: { frame, nonce: ++this.seekNonce } });
  }

  cancelTracking(): void {
    const abort = this.trackingAbort;
    if (!abort) return;
    this.trackingAbort = null;
    abort.abort();
    const sessionId = this.state.sessionId;
    if (sessionId) ops.cancelPropagateInVideo(this.client, sessionId).catch(() => undefined);
    this.set({ tracking: finishProgress(this.state.tracking, 'cancelled', performance.now()) });
    this.notify('Tracking cancelled. Masks received so far are kept.');
  }

  // ---- uploads ----

  /** Upload a file; `trimToLimit` keeps only its first maxDurationSec seconds. */
  async upload(file: File, trimToLimit = false): Promise<void> {
    if (this.state.upload.status === 'uploading' || this.state.upload.status === 'processing') return;
    const idle: UploadState = { status: 'idle', sent: 0, total: 0, error: null, tooLong: null };
    this.set({ upload: { ...idle, status: 'checking', total: file.size } });
    const check = checkUploadFile(file, this.limits, await probeVideoDuration(file));
    if (check && !(trimToLimit && check.tooLong)) {
      this.set({ upload: { ...idle, status: 'error', error: check.problem, tooLong: check.tooLong ? file : null } });
      return;
    }
    const abort = new AbortController();
    this.uploadAbort = abort;
    this.set({ upload: { ...idle, status: 'uploading', total: file.size } });
    try {
      const video = await uploadVideo(this.client.baseUrl, file, {
        signal: abort.signal,
        ...(trimToLimit ? { startTimeSec: 0, durationTimeSec: this.limits.maxDurationSec } : {}),
        onProgress: (sent, total) => {
          this.set({ upload: { ...idle, status: sent >= total ? 'processing' : 'uploading', sent, total } });
        },
      });
      this.set({ upload: idle });
      await this.refreshVideos();
      await this.openVideo(video);
    } catch (err) {
      const cancelled = (err as Error).name === 'AbortError';
      this.set({ upload: { ...idle, status: cancelled ? 'idle' : 'error', error: cancelled ? null : `Upload failed: ${errorText(err)}` } });
    } finally {
      this.uploadAbort = null;
    }
  }

  cancelUpload(): void {
    this.uploadAbort?.abort();
  }
}
