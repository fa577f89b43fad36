/**
 * The page's state as React sees it (one immutable DemoState, replaced on
 * every change) and the small store that holds it. The controller and its
 * helpers (sessions, tracking, uploads) all change state through `set`.
 */
import type { ServerInfo, Video } from '../api/types';
import type { AccessMode, ShareLink } from '../api/work';
import { DEFAULT_EFFECTS, type EffectChoice } from '../render/effectCatalog';
import type { History } from '../state/history';
import type { MaskStore } from '../state/masks';
import type { PaintTool } from '../state/maskPaint';
import { ALL_VISIBLE, type Visibility } from '../state/visibility';
import { NO_ZOOM, type StageZoom } from '../state/zoom';
import * as objectsState from '../state/objects';
import * as promptsState from '../state/prompts';
import { idleProgress, type TrackingProgress } from '../state/tracking';

/**
 * What a notice is about, so it goes away when that ends: `hint` (until the
 * first prompt), `tracking` (until tracking stops), `session`, `upload`;
 * `transient` info notices fade after a few seconds.
 */
export type NoticeTopic = 'hint' | 'tracking' | 'session' | 'transient';

export interface Notice {
  kind: 'info' | 'error';
  text: string;
  topic: NoticeTopic;
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

export const idleUpload: UploadState = { status: 'idle', sent: 0, total: 0, error: null, tooLong: null };

/** What a press on the video does: points and boxes, a brush or eraser stroke, or dragging the outline's vertices of the selected object's mask. */
export type StageTool = 'points' | PaintTool | 'polygon';

/** Brush radius a page starts with (video pixels). */
export const DEFAULT_BRUSH_RADIUS = 12;

export type SessionStatus = 'none' | 'starting' | 'ready' | 'recovering' | 'error';

export interface DemoState {
  serverInfo: ServerInfo | null;
  videos: Video[];
  video: Video | null;
  sessionId: string | null;
  sessionStatus: SessionStatus;
  /** The open work is this page's own, or a share link's (editable or view-only). */
  access: AccessMode;
  /** The open work's share links (its owner's view). */
  shareLinks: ShareLink[];
  objects: objectsState.ObjectsState;
  prompts: promptsState.PromptsState;
  /** Undo steps over prompts and objects, newest last. */
  history: History;
  /** Bumped whenever the current video's masks change. */
  maskVersion: number;
  tracking: TrackingProgress;
  effect: EffectChoice;
  negativeMode: boolean;
  tool: StageTool;
  /** Brush and eraser radius in video pixels. */
  brushRadius: number;
  /** How the video is zoomed and panned (the view only: prompts stay in video coordinates). */
  zoom: StageZoom;
  /** Objects hidden or soloed on the video (review; exports show every object). */
  visibility: Visibility;
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

/**
 * Everything a user built on one video. The current video's work lives in
 * DemoState (and `masks`); the others wait here while their server
 * sessions live, so switching videos loses nothing.
 */
export interface VideoWork {
  video: Video;
  /** The session's id, or the share link's token a link's holder names it by. */
  sessionId: string | null;
  access: AccessMode;
  objects: objectsState.ObjectsState;
  prompts: promptsState.PromptsState;
  history: History;
  masks: MaskStore;
  currentFrame: number;
}

export const initialState: DemoState = {
  serverInfo: null,
  videos: [],
  video: null,
  sessionId: null,
  sessionStatus: 'none',
  access: 'owner',
  shareLinks: [],
  objects: objectsState.emptyObjects,
  prompts: promptsState.emptyPrompts,
  history: [],
  maskVersion: 0,
  tracking: idleProgress,
  effect: DEFAULT_EFFECTS,
  negativeMode: false,
  tool: 'points',
  brushRadius: DEFAULT_BRUSH_RADIUS,
  zoom: NO_ZOOM,
  visibility: ALL_VISIBLE,
  currentFrame: 0,
  playing: false,
  seekRequest: null,
  pendingPrompts: 0,
  upload: idleUpload,
  notice: null,
  helpOpen: false,
};

/** How long a transient info notice stays (ms). */
const TRANSIENT_MS = 6000;

export class Store {
  protected state: DemoState = initialState;
  private readonly listeners = new Set<() => void>();
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;

  getState = (): DemoState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  set(patch: Partial<DemoState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  notify(text: string, kind: Notice['kind'] = 'info', topic: NoticeTopic = 'transient'): void {
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = null;
    const notice: Notice = { kind, text, topic };
    this.set({ notice });
    if (topic === 'transient' && kind === 'info') {
      this.noticeTimer = setTimeout(() => {
        if (this.state.notice === notice) this.set({ notice: null });
      }, TRANSIENT_MS);
    }
  }

  dismissNotice(): void {
    this.set({ notice: null });
  }

  /** Drop the notice if it is about `topic` (its condition ended). */
  endNotice(topic: NoticeTopic): void {
    if (this.state.notice?.topic === topic) this.set({ notice: null });
  }
}
