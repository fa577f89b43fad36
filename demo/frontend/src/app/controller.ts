/**
 * The demo's controller: the one object components talk to. It owns the
 * page state (store.ts) and turns user actions into state changes and API
 * calls. Its helpers each take one job: `SessionKeeper` (each video's work
 * and server session, reload, recovery), `TrackingRunner` (Track/Cancel),
 * `UploadFlow` (uploads), `EverythingStore` ("segment everything"
 * proposals). The pure rules live in `state/`, the transport in `api/`.
 */
import { apiBaseUrl } from '../api/config';
import { ApiError, GraphQLClient } from '../api/graphql';
import * as ops from '../api/operations';
import { DEFAULT_LIMITS, type RleMaskListOnFrame, type Video } from '../api/types';
import type { EffectChoice } from '../render/effectCatalog';
import { clampFrame } from '../render/frameTime';
import { decodeMask, encodeMask, type RleMask } from '../render/rle';
import { popStep, pushStep, type UndoStep, type Work } from '../state/history';
import { MAX_BRUSH_RADIUS, MIN_BRUSH_RADIUS, paintStroke, type PaintPoint, type PaintTool } from '../state/maskPaint';
import { MaskStore, type SavedMask } from '../state/masks';
import { polygonsToMask, type Polygon } from '../state/polygon';
import * as labelsState from '../state/labels';
import * as objectsState from '../state/objects';
import * as promptsState from '../state/prompts';
import * as rangesState from '../state/ranges';
import { idleProgress } from '../state/tracking';
import { staleRangesAfterEdit } from '../state/trackPlan';
import { ALL_VISIBLE, toggleHidden, toggleSolo } from '../state/visibility';
import { NO_ZOOM, clampZoom, zoomAt, type StageZoom } from '../state/zoom';
import { EverythingStore } from './segmentEverything';
import { ObjectsSync } from './objectsSync';
import { SessionKeeper, sendEdit } from './sessions';
import { ShareFlow } from './sharing';
import { Store, type PlayerHandle, type StageTool, type VideoWork } from './store';
import { TrackingRunner } from './trackingRunner';
import { UploadFlow } from './uploads';

export type { DemoState, Notice, PlayerHandle, StageTool, UploadState } from './store';

/** What a view-only link's holder is told on a change the page does not send (the server's words for those it does). */
const VIEW_ONLY = 'This link is view-only: you can play, apply effects and export, but not edit.';

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class DemoController extends Store {
  readonly client: GraphQLClient;
  /** Masks of the open video (each video has its own store). */
  masks = new MaskStore();
  readonly sessions: SessionKeeper;
  private readonly tracker: TrackingRunner;
  private readonly uploads: UploadFlow;
  /** "Segment everything" proposals of each video (app/segmentEverything.ts). */
  readonly everything: EverythingStore;
  /** The open work's share links (app/sharing.ts). */
  readonly sharing: ShareFlow;
  /** Sends names, colours, labels and ranges to the server (app/objectsSync.ts). */
  private readonly objectsSync: ObjectsSync;
  /** Server calls of the prompts and objects run one after another so the last edit's answer wins. */
  private queue: Promise<void> = Promise.resolve();
  private seekNonce = 0;
  private player: PlayerHandle | null = null;

  constructor(baseUrl: string = apiBaseUrl()) {
    super();
    this.client = new GraphQLClient(baseUrl);
    this.sessions = new SessionKeeper(this);
    this.tracker = new TrackingRunner(this);
    this.uploads = new UploadFlow(this);
    this.everything = new EverythingStore(this);
    this.sharing = new ShareFlow(this);
    this.objectsSync = new ObjectsSync(this);
  }

  get limits() {
    return this.state.serverInfo?.limits ?? DEFAULT_LIMITS;
  }

  fail(err: unknown, context: string): void {
    if ((err as Error)?.name === 'AbortError') return;
    // A view-only link's refusal is a whole sentence of its own.
    const text = err instanceof ApiError && err.readOnly ? errorText(err) : `${context}: ${errorText(err)}`;
    this.notify(text, 'error', err instanceof ApiError && (err.sessionGone || err.linkGone) ? 'session' : 'transient');
  }

  // ---- start-up and videos ----

  /**
   * Load the server's info and videos, then open the share link's work of
   * the URL, else reopen the video of the URL / last visit, else the default.
   */
  async init(reopen: string | null = null, share: string | null = null): Promise<void> {
    const [info, videos, defaultVideo] = await Promise.allSettled([
      ops.fetchServerInfo(this.client),
      ops.fetchVideos(this.client),
      ops.fetchDefaultVideo(this.client),
    ]);
    if (info.status === 'fulfilled') this.set({ serverInfo: info.value });
    if (videos.status === 'fulfilled') this.set({ videos: videos.value });
    else this.fail(videos.reason, 'Could not load the video gallery');
    if (share && (await this.sessions.openShared(share))) return;
    if (share) return; // the link's message stays; the library still opens any video
    const wanted = reopen ? this.state.videos.find((v) => v.path === reopen) : undefined;
    if (reopen && !wanted && videos.status === 'fulfilled') this.notify(`"${reopen}" is not on this server (any more); opening the default video.`);
    const first = wanted ?? (defaultVideo.status === 'fulfilled' && defaultVideo.value ? defaultVideo.value : this.state.videos[0]);
    if (first) await this.openVideo(first);
    else if (videos.status === 'fulfilled') this.notify('The server has no videos yet: upload one to start.', 'info', 'hint');
  }

  async refreshVideos(): Promise<void> {
    try {
      this.set({ videos: await ops.fetchVideos(this.client) });
    } catch (err) {
      this.fail(err, 'Could not refresh the gallery');
    }
  }

  /** Switch to a video; the one left keeps its work and session. */
  openVideo(video: Video): Promise<void> {
    return this.sessions.open(video);
  }

  /** After a failed start or recovery: try a new session for the open video (prompts replayed). */
  retrySession(): void {
    const work = this.sessions.current();
    if (work) void this.sessions.recover(work, null);
  }

  /** Show a video's work (called by SessionKeeper on a switch). */
  activate(work: VideoWork): void {
    this.masks = work.masks;
    this.set({
      video: work.video,
      sessionId: work.sessionId,
      sessionStatus: work.sessionId ? 'ready' : 'starting',
      access: work.access,
      shareLinks: [],
      objects: work.objects,
      prompts: work.prompts,
      history: work.history,
      maskVersion: this.state.maskVersion + 1,
      tracking: idleProgress,
      currentFrame: work.currentFrame,
      playing: false,
      seekRequest: { frame: work.currentFrame, nonce: ++this.seekNonce },
      notice: null,
      zoom: NO_ZOOM,
      visibility: ALL_VISIBLE,
    });
  }

  /** A work's masks changed: redraw when it is on screen. */
  masksChanged(work: VideoWork): void {
    if (this.sessions.isCurrent(work)) this.set({ maskVersion: this.state.maskVersion + 1 });
  }

  /** Is there work a reload or leaving would lose (running tracking, an upload)? */
  hasWorkInFlight(): boolean {
    return this.tracker.running || this.uploads.busy;
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

  /** Follow tracking without pausing anything. */
  showTrackedFrame(frame: number): void {
    this.set({ currentFrame: frame, seekRequest: { frame, nonce: ++this.seekNonce } });
  }

  setEffect(effect: Partial<EffectChoice>): void {
    this.set({ effect: { ...this.state.effect, ...effect } });
  }

  setNegativeMode(negativeMode: boolean): void {
    this.set({ negativeMode });
  }

  setTool(tool: StageTool): void {
    if (tool !== this.state.tool) this.set({ tool });
  }

  setBrushRadius(radius: number): void {
    const brushRadius = Math.round(Math.min(MAX_BRUSH_RADIUS, Math.max(MIN_BRUSH_RADIUS, radius)));
    if (brushRadius !== this.state.brushRadius) this.set({ brushRadius });
  }

  setZoom(zoom: StageZoom): void {
    const z = clampZoom(zoom);
    const cur = this.state.zoom;
    if (z.scale !== cur.scale || z.cx !== cur.cx || z.cy !== cur.cy) this.set({ zoom: z });
  }

  /** Zoom in (factor > 1) or out around the centre of the view. */
  zoomBy(factor: number): void {
    const z = this.state.zoom;
    this.setZoom(zoomAt(z, factor, z.cx, z.cy));
  }

  /** Hide or show an object on the video. */
  toggleHidden(id: number): void {
    this.set({ visibility: toggleHidden(this.state.visibility, id) });
  }

  /** Show only this object on the video (again: all of them). */
  toggleSolo(id: number): void {
    this.set({ visibility: toggleSolo(this.state.visibility, id) });
  }

  setHelpOpen(helpOpen: boolean): void {
    this.set({ helpOpen });
  }

  // ---- the server queue ----

  /** Resolves once every queued prompt/object call has answered. */
  promptsSettled(): Promise<void> {
    return this.queue;
  }

  /**
   * Run a server call for the open video's session after the earlier ones;
   * its masks go to that video's store. A session the server no longer has
   * is replaced (and every prompt replayed, which covers this call) instead
   * of failing; any other failure calls `failed` (to take the edit back).
   */
  private enqueue(call: (sessionId: string) => Promise<RleMaskListOnFrame[]>, replaceAll: boolean, context: string, failed?: () => void): void {
    const work = this.sessions.current();
    if (!work) return;
    this.set({ pendingPrompts: this.state.pendingPrompts + 1 });
    this.queue = this.queue.then(async () => {
      try {
        const sessionId = this.sessions.view(work).sessionId;
        if (!sessionId) return;
        const lists = await call(sessionId);
        for (const list of lists) work.masks.setFrame(list.frameIndex, list.rleMaskList, replaceAll);
        this.masksChanged(work);
      } catch (err) {
        if (await this.sessions.sessionLost(work, err)) return;
        if (this.sessions.isCurrent(work)) failed?.();
        this.fail(err, context);
      } finally {
        this.set({ pendingPrompts: this.state.pendingPrompts - 1 });
      }
    });
  }

  // ---- prompts ----

  /**
   * May the user change the work now? `serverDecides`: a prompt, which a
   * view-only link's holder may still send; the server refuses it with its
   * own message and the page takes it back (as any failed prompt).
   */
  private canEdit(serverDecides = false): boolean {
    if (this.state.access === 'view' && !serverDecides) {
      this.notify(VIEW_ONLY, 'error');
      return false;
    }
    if (this.state.tracking.status === 'running') {
      this.notify('Tracking is running: cancel it (Esc) or wait before changing prompts or objects.', 'info', 'tracking');
      return false;
    }
    if (!this.state.sessionId) {
      const s = this.state.sessionStatus;
      this.notify(s === 'starting' || s === 'recovering' ? 'The video is still loading on the server; try again in a moment.' : 'No session: pick a video first.', 'error');
      return false;
    }
    return true;
  }

  private work(): Work {
    return { objects: this.state.objects, prompts: this.state.prompts };
  }

  /** Record an undo step: `before` is the work as it was, `droppedMasks` what the action removed. */
  private remember(label: string, before: Work, droppedMasks: readonly SavedMask[] = [], undoAlso?: () => void): UndoStep {
    const step: UndoStep = { label, before, droppedMasks, undoAlso };
    this.set({ history: pushStep(this.state.history, step) });
    return step;
  }

  /**
   * The server refused or never got an edit: it is not a prompt. Its frame's
   * prompts go back to what they were; when nothing was done since, so do
   * the stale marks it made and its undo step.
   */
  private takeBack(edit: promptsState.PromptEdit, step: UndoStep, staleBefore: Record<number, number[]>): void {
    const key = promptsState.keyOf(edit.objectId, edit.frameIndex);
    const ours = promptsState.isEmptyPrompt(edit.prompt) ? undefined : edit.prompt;
    if (this.state.prompts.byKey[key] !== ours) return; // edited again since: that edit decides
    const byKey = { ...this.state.prompts.byKey };
    const previous = step.before.prompts.byKey[key];
    if (previous) byKey[key] = previous;
    else delete byKey[key];
    const history = this.state.history;
    if (history[history.length - 1] === step) {
      this.masks.setStaleFrames(edit.objectId, staleBefore[edit.objectId] ?? []);
      this.set({ history: history.slice(0, -1) });
    }
    this.set({ prompts: { byKey }, maskVersion: this.state.maskVersion + 1 });
  }

  /**
   * Mark what each prompt change can affect stale, and send the changes.
   * `step`: the undo step of a new edit, taken back if the server fails it.
   */
  private afterPromptEdits(edits: readonly promptsState.PromptEdit[], step: UndoStep | null = null): void {
    const staleBefore = this.masks.staleFrames();
    const n = this.state.video?.numFrames ?? 1;
    for (const edit of edits) {
      const others = promptsState.promptedFrames(this.state.prompts, edit.objectId).filter((f) => f !== edit.frameIndex);
      for (const [from, to] of staleRangesAfterEdit(n, edit.frameIndex, others)) this.masks.markStale(edit.objectId, from, to);
    }
    if (edits.length > 0) this.set({ maskVersion: this.state.maskVersion + 1 });
    if (promptsState.promptedObjects(this.state.prompts).length > 0) this.endNotice('hint');
    for (const edit of edits) {
      const stillPrompted = promptsState.promptedFrames(this.state.prompts, edit.objectId).length > 0;
      const takeBack = step ? () => this.takeBack(edit, step, staleBefore) : undefined;
      this.enqueue((sid) => sendEdit(this.client, sid, edit, stillPrompted), !stillPrompted, 'The server could not segment this prompt', takeBack);
    }
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

  private editPrompt(label: string, change: (objectId: number, prompts: promptsState.PromptsState) => [promptsState.PromptsState, promptsState.PromptEdit]): void {
    if (!this.canEdit(true)) return;
    const before = this.work();
    const objectId = this.targetObjectId();
    if (objectId === null) return;
    const [prompts, edit] = change(objectId, this.state.prompts);
    const step = this.remember(label, before);
    this.set({ prompts });
    this.afterPromptEdits([edit], step);
  }

  /**
   * A click at normalised (x, y) on `frame`: removes the selected object's
   * point under the cursor, else adds a point (negative when asked).
   * tolX/tolY: hit radius in normalised units.
   */
  clickAt(frame: number, x: number, y: number, negative: boolean, tolX: number, tolY: number): void {
    this.editPrompt('point', (objectId, prompts) => {
      const hit = promptsState.findPointNear(promptsState.getPrompt(prompts, objectId, frame), x, y, tolX, tolY);
      return hit >= 0
        ? promptsState.removePoint(prompts, objectId, frame, hit)
        : promptsState.addPoint(prompts, objectId, frame, { x, y, label: negative || this.state.negativeMode ? 0 : 1 });
    });
  }

  drawBox(frame: number, box: promptsState.PromptBox): void {
    this.editPrompt('box', (objectId, prompts) => promptsState.setBox(prompts, objectId, frame, box));
  }

  /**
   * A brush or eraser stroke on `frame` (points normalised, as clicks): the
   * selected object's mask there, edited, becomes its prompt on that frame
   * (the server takes it as is and tracks from it), one undo step. Shown at
   * once; the server's answer replaces it.
   */
  paint(frame: number, points: readonly PaintPoint[], tool: PaintTool): void {
    const video = this.state.video;
    if (!video || points.length === 0 || !this.canEdit(true)) return;
    if (this.state.objects.selectedId === null && tool === 'eraser') {
      this.notify('Select an object to erase from.');
      return;
    }
    const before = this.work();
    const objectId = this.targetObjectId();
    if (objectId === null) return;
    const { width: w, height: h } = video;
    const previous = this.masks.get(frame, objectId);
    const pixels = previous && previous.size[0] === h && previous.size[1] === w ? decodeMask(previous) : new Uint8Array(w * h);
    const inPixels = points.map((p) => ({ x: p.x * w, y: p.y * h }));
    if (paintStroke(pixels, w, h, inPixels, this.state.brushRadius, tool) === 0) return; // nothing changed: no step
    this.replaceMask(frame, objectId, encodeMask(pixels, h, w), previous, before, tool === 'brush' ? 'a brush stroke' : 'an eraser stroke');
  }

  /**
   * The selected object's mask on `frame` drawn as `polygons` (video
   * pixels; the polygon view's vertices moved): their fill becomes its mask
   * prompt there, as a brush stroke does (one undo step).
   */
  reshapeMask(frame: number, polygons: readonly Polygon[]): void {
    const video = this.state.video;
    const objectId = this.state.objects.selectedId;
    if (!video || objectId === null || !this.canEdit(true)) return;
    const rle = encodeMask(polygonsToMask(polygons, video.width, video.height), video.height, video.width);
    const previous = this.masks.get(frame, objectId);
    if (previous && previous.counts === rle.counts) return; // nothing moved
    this.replaceMask(frame, objectId, rle, previous, this.work(), 'a polygon edit');
  }

  /** A hand-made mask becomes the object's prompt on `frame`: shown at once, sent, undoable to `previous`. */
  private replaceMask(frame: number, objectId: number, rle: RleMask, previous: RleMask | undefined, before: Work, label: string): void {
    // Undo must bring the old mask back. A frame that had a mask but no prompt gets it
    // back as its prompt: cleared, the server would keep the painted result there.
    const hadPrompt = !promptsState.isEmptyPrompt(promptsState.getPrompt(before.prompts, objectId, frame));
    const undoTo = !hadPrompt && previous ? { ...before, prompts: promptsState.setMask(before.prompts, objectId, frame, previous)[0] } : before;
    const step = this.remember(label, undoTo);
    const [prompts, edit] = promptsState.setMask(this.state.prompts, objectId, frame, rle);
    this.set({ prompts });
    this.masks.setFrame(frame, [{ objectId, rleMask: rle }], false);
    this.afterPromptEdits([edit], step);
  }

  clearFrameOfSelected(): void {
    if (this.state.objects.selectedId === null) return;
    this.editPrompt('clear frame', (objectId, prompts) => promptsState.clearFrame(prompts, objectId, this.state.currentFrame));
  }

  /** Undo the last step: a prompt change, an added/removed/cleared object, or a start over. */
  undo(): void {
    if (!this.canEdit()) return;
    const popped = popStep(this.state.history);
    if (!popped) {
      this.notify('Nothing to undo.');
      return;
    }
    const [step, history] = popped;
    const edits = promptsState.diffPrompts(this.state.prompts, step.before.prompts);
    // Objects left without prompts lose their masks: the server removes them (sendEdit).
    const promptedBefore = new Set(promptsState.promptedObjects(step.before.prompts));
    for (const o of this.state.objects.objects) {
      if (!objectsState.findObject(step.before.objects, o.id) || !promptedBefore.has(o.id)) this.masks.removeObject(o.id);
    }
    this.masks.restore(step.droppedMasks);
    this.set({ objects: step.before.objects, prompts: step.before.prompts, history });
    step.undoAlso?.();
    this.afterPromptEdits(edits);
    if (edits.length === 1 && edits[0].frameIndex !== this.state.currentFrame) this.seek(edits[0].frameIndex);
    this.notify(`Undid ${step.label}.`);
  }

  // ---- objects ----

  addObject(): void {
    if (this.state.access === 'view') {
      this.notify(VIEW_ONLY, 'error');
      return;
    }
    try {
      const before = this.work();
      const objects = objectsState.addObject(this.state.objects, this.limits.maxObjects);
      this.remember('adding an object', before);
      this.set({ objects });
    } catch (err) {
      this.fail(err, 'Cannot add an object');
    }
  }

  selectObject(id: number): void {
    this.set({ objects: objectsState.selectObject(this.state.objects, id) });
  }

  renameObject(id: number, name: string): void {
    this.changeObject(id, 'renaming', (objects) => objectsState.renameObject(objects, id, name));
  }

  recolorObject(id: number, color: string): void {
    this.changeObject(id, 'recolouring', (objects) => objectsState.recolorObject(objects, id, color));
  }

  // ---- labels: the video's label set and each object's label (undoable, like names) ----

  addLabel(name: string): void {
    this.changeObjects('adding a label', (objects) => labelsState.addLabel(objects, name));
  }

  renameLabel(from: string, to: string): void {
    this.changeObjects(`renaming label ${from}`, (objects) => labelsState.renameLabel(objects, from, to));
  }

  recolorLabel(name: string, color: string): void {
    this.changeObjects(`recolouring label ${name}`, (objects) => labelsState.recolorLabel(objects, name, color), true);
  }

  removeLabel(name: string): void {
    this.changeObjects(`removing label ${name}`, (objects) => labelsState.removeLabel(objects, name));
  }

  setObjectLabel(id: number, label: string): void {
    this.changeObjects(`labelling object ${id}`, (objects) => labelsState.setObjectLabel(objects, id, label));
  }

  // ---- frame ranges: when an object is in the scene ----

  /** The object leaves the scene after `frame`: its masks after it go (undoable). */
  endObjectAt(id: number, frame: number): void {
    this.changeRange(id, `ending object ${id} at frame ${frame}`, (objects) => rangesState.endAt(objects, id, frame));
  }

  /** The object enters the scene at `frame`: its masks before it go (undoable). */
  startObjectAt(id: number, frame: number): void {
    this.changeRange(id, `starting object ${id} at frame ${frame}`, (objects) => rangesState.startAt(objects, id, frame));
  }

  clearObjectRange(id: number): void {
    this.changeRange(id, `the range of object ${id}`, (objects) => rangesState.clearRange(objects, id));
  }

  /**
   * Delete an object's masks on frames from..to (inclusive) and its prompts
   * there, on the page and the server (undoable: the masks come back stale,
   * the prompts are sent again). The frames are then untracked: a later
   * Track fills them from the object's other prompts; to keep it off frames
   * for good, start or end its range.
   */
  deleteMasks(id: number, from: number, to: number): void {
    const o = objectsState.findObject(this.state.objects, id);
    if (!o || !this.canEdit()) return;
    const n = this.state.video?.numFrames ?? 1;
    const [first, last] = [clampFrame(Math.min(from, to), n), clampFrame(Math.max(from, to), n)];
    const inside = (f: number) => f >= first && f <= last;
    const dropped = this.masks.objectMasks(id).filter((m) => inside(m.frameIndex));
    const promptFrames = promptsState.promptedFrames(this.state.prompts, id).filter(inside);
    const span = first === last ? `frame ${first}` : `frames ${first}–${last}`;
    if (dropped.length === 0 && promptFrames.length === 0) {
      this.notify(`${o.name} has no masks on ${span}.`);
      return;
    }
    let prompts = this.state.prompts;
    for (const f of promptFrames) prompts = promptsState.clearFrame(prompts, id, f)[0];
    this.remember(`deleting masks of ${o.name} on ${span}`, this.work(), dropped);
    for (const m of dropped) this.masks.removeMask(m.frameIndex, id);
    this.set({ prompts, maskVersion: this.state.maskVersion + 1 });
    this.enqueue(async (sid) => {
      await ops.deleteMasks(this.client, sid, id, first, last);
      return [];
    }, false, 'The server could not delete the masks');
    this.notify(`Deleted ${dropped.length} mask${dropped.length === 1 ? '' : 's'} of ${o.name} on ${span}. Undo (Ctrl+Z) brings them back.`);
  }

  /**
   * A new frame range: masks outside it leave the page (kept in the undo step)
   * and the server (sent at once, ahead of any Track, which waits for it).
   */
  private changeRange(id: number, label: string, change: (objects: objectsState.ObjectsState) => objectsState.ObjectsState): void {
    if (!this.canEdit()) return;
    const objects = change(this.state.objects);
    if (objects === this.state.objects) return;
    const o = objectsState.findObject(objects, id);
    const dropped = this.masks.objectMasks(id).filter((m) => !rangesState.inRange(o, m.frameIndex));
    this.remember(label, this.work(), dropped);
    for (const m of dropped) this.masks.removeMask(m.frameIndex, id);
    this.set({ objects, maskVersion: this.state.maskVersion + 1 });
    this.queue = this.queue.then(() => this.objectsSync.flush());
  }

  /** An undoable change of the objects or labels; `coalesce`: the same change in a row is one step (a colour drag). */
  private changeObjects(label: string, change: (objects: objectsState.ObjectsState) => objectsState.ObjectsState, coalesce = false): void {
    if (this.state.access === 'view') return;
    const objects = change(this.state.objects);
    if (objects === this.state.objects) return;
    const last = this.state.history[this.state.history.length - 1];
    if (!coalesce || last?.label !== label) this.remember(label, this.work());
    this.set({ objects });
  }

  /**
   * A name or colour change, undoable. A colour picker fires on every move:
   * changes of the same kind to the same object in a row make one step.
   */
  private changeObject(id: number, verb: string, change: (objects: objectsState.ObjectsState) => objectsState.ObjectsState): void {
    if (this.state.access === 'view') return;
    const o = objectsState.findObject(this.state.objects, id);
    const objects = change(this.state.objects);
    if (!o || objects === this.state.objects || JSON.stringify(objectsState.findObject(objects, id)) === JSON.stringify(o)) return;
    const label = `${verb} object ${id}`;
    const last = this.state.history[this.state.history.length - 1];
    if (last?.label !== label) this.remember(label, this.work());
    this.set({ objects });
  }

  /** Drop an object's prompts and masks (undoable); `keep` leaves its row. */
  private dropObject(id: number, keep: boolean): void {
    const o = objectsState.findObject(this.state.objects, id);
    if (!o || !this.canEdit()) return;
    const before = this.work();
    const hadPrompts = promptsState.promptedObjects(this.state.prompts).includes(id);
    const dropped = this.masks.objectMasks(id);
    this.remember(`${keep ? 'clearing' : 'removing'} ${o.name}`, before, dropped);
    this.set({
      prompts: promptsState.forgetObject(this.state.prompts, id),
      objects: keep ? this.state.objects : objectsState.removeObject(this.state.objects, id),
    });
    this.masks.removeObject(id);
    this.set({ maskVersion: this.state.maskVersion + 1 });
    if (hadPrompts) this.enqueue((sid) => ops.removeObject(this.client, sid, id), true, 'The server could not remove the object');
    this.notify(`${keep ? 'Cleared' : 'Removed'} ${o.name}. Undo (Ctrl+Z) brings it back.`);
  }

  clearObject(id: number): void {
    this.dropObject(id, true);
  }

  removeObject(id: number): void {
    this.dropObject(id, false);
  }

  /** Forget every object, prompt and mask of this video (undoable), one fresh object ready. */
  startOver(): void {
    if (!this.canEdit()) return;
    const before = this.work();
    const dropped = this.state.objects.objects.flatMap((o) => this.masks.objectMasks(o.id));
    const hadPrompts = promptsState.promptedObjects(this.state.prompts).length > 0;
    this.remember('starting over', before, dropped);
    // The label set is the video's: it stays.
    const objects = objectsState.addObject({ objects: [], selectedId: null, nextId: this.state.objects.nextId, labels: this.state.objects.labels }, this.limits.maxObjects);
    this.masks.clear();
    this.set({ objects, prompts: promptsState.emptyPrompts, maskVersion: this.state.maskVersion + 1 });
    if (hadPrompts) {
      this.enqueue(async (sid) => {
        await ops.clearPointsInVideo(this.client, sid);
        return [];
      }, true, 'The server could not start over');
    }
    this.notify('Started over: every object, prompt and mask of this video is gone. Undo (Ctrl+Z) brings them back.');
  }

  /**
   * Kept "segment everything" proposals: each mask becomes an object
   * prompted by it on `frame` (one undo step for them all). Objects without
   * prompts (the empty one a video starts with) are used first. Returns how
   * many objects were made; undoing the step calls `undoAlso` with that count.
   * `colors`: each mask's colour as proposed; its object takes it (it does not change when kept).
   */
  keepMasks(frame: number, masks: readonly RleMask[], undoAlso?: (kept: number) => void, colors: readonly string[] = []): number {
    if (masks.length === 0 || !this.canEdit()) return 0;
    const before = this.work();
    let { objects, prompts } = before;
    const edits: promptsState.PromptEdit[] = [];
    for (const [i, mask] of masks.entries()) {
      const prompted = new Set(promptsState.promptedObjects(prompts));
      let id = objects.objects.find((o) => !prompted.has(o.id))?.id;
      if (id === undefined) {
        try {
          objects = objectsState.addObject(objects, this.limits.maxObjects);
        } catch (err) {
          this.fail(err, 'Cannot add an object');
          break;
        }
        id = objects.selectedId as number;
      }
      if (colors[i]) objects = objectsState.recolorObject(objects, id, colors[i]);
      const [next, edit] = promptsState.setMask(prompts, id, frame, mask);
      prompts = next;
      edits.push(edit);
    }
    if (edits.length === 0) return 0;
    const kept = edits.length;
    const step = this.remember(kept === 1 ? 'keeping a proposal' : `keeping ${kept} proposals`, before, [], undoAlso && (() => undoAlso(kept)));
    this.set({ objects, prompts });
    this.afterPromptEdits(edits, step);
    return edits.length;
  }

  // ---- tracking and uploads ----

  track(): Promise<void> {
    return this.tracker.track();
  }

  cancelTracking(): void {
    this.tracker.cancel();
  }

  upload(file: File, trimToLimit = false): Promise<void> {
    return this.uploads.upload(file, trimToLimit);
  }

  cancelUpload(): void {
    this.uploads.cancel();
  }
}
