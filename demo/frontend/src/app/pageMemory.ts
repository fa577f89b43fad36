/**
 * What survives a reload: the open video (in the URL, `?video=<path>`, so
 * a link or a reload reopens it; `&share=<token>` when it is a share
 * link's work) and, in local storage, each of this page's own videos'
 * session id, route key, objects, prompts, stale marks and frame; under a
 * key of their own, "segment everything" proposals not yet kept or dropped
 * (a run can take 20 s: a reload must not waste it). Masks are not stored:
 * they come back from the server, which keeps every session's work in its
 * database.
 */
import type { ObjectsState } from '../state/objects';
import type { FramePrompt } from '../state/prompts';
import type { ProposalItem } from '../state/proposals';

const STORAGE_KEY = 'sam2-demo-work-v1';
/** Videos remembered at most (least recently saved dropped first). */
const MAX_VIDEOS = 12;

export interface SavedWork {
  sessionId: string | null;
  /** The session's X-Route-Key (absent in work saved before route keys). */
  routeKey?: string | null;
  objects: ObjectsState;
  prompts: Record<string, FramePrompt>;
  /** Stale frames per object id. */
  stale: Record<string, number[]>;
  currentFrame: number;
  savedAt: number;
}

interface Saved {
  lastVideo: string | null;
  videos: Record<string, SavedWork>;
}

function isSavedWork(v: unknown): v is SavedWork {
  const w = v as SavedWork | null;
  return (
    !!w &&
    (w.sessionId === null || typeof w.sessionId === 'string') &&
    !!w.objects && Array.isArray(w.objects.objects) && typeof w.objects.nextId === 'number' &&
    !!w.prompts && typeof w.prompts === 'object' &&
    !!w.stale && typeof w.stale === 'object' &&
    typeof w.currentFrame === 'number'
  );
}

function read(): Saved {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    const parsed = raw ? (JSON.parse(raw) as Saved) : null;
    if (parsed && typeof parsed.videos === 'object' && parsed.videos) {
      const videos: Record<string, SavedWork> = {};
      for (const [path, w] of Object.entries(parsed.videos)) if (isSavedWork(w)) videos[path] = w;
      return { lastVideo: typeof parsed.lastVideo === 'string' ? parsed.lastVideo : null, videos };
    }
  } catch {
    // unreadable or disabled storage: start clean
  }
  return { lastVideo: null, videos: {} };
}

export function loadWork(path: string): SavedWork | null {
  return read().videos[path] ?? null;
}

/** The video to reopen: the URL's, else the last one open here. */
export function videoToReopen(): string | null {
  const fromUrl = new URLSearchParams(window.location.search).get('video');
  return fromUrl || read().lastVideo;
}

/** Save works by video path; `current` becomes the video to reopen. */
export function saveWorks(works: Record<string, Omit<SavedWork, 'savedAt'>>, current: string | null): void {
  const saved = read();
  const now = Date.now();
  for (const [path, w] of Object.entries(works)) saved.videos[path] = { ...w, savedAt: now };
  const kept = Object.entries(saved.videos).sort((a, b) => b[1].savedAt - a[1].savedAt).slice(0, MAX_VIDEOS);
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ lastVideo: current, videos: Object.fromEntries(kept) }));
  } catch {
    // full or disabled storage: the live page still has everything
  }
}

/** The share link's token in the URL (`?share=<token>`), or null. */
export function shareToOpen(): string | null {
  return new URLSearchParams(window.location.search).get('share') || null;
}

/** The address that opens a share link's work in another browser. */
export function shareUrl(token: string): string {
  const url = new URL(window.location.pathname, window.location.origin);
  url.searchParams.set('share', token);
  return url.toString();
}

/**
 * Put the open video in the address bar without adding a history entry;
 * `share`: the link's token when the work is a share link's (else the
 * `share` parameter goes, so a reload opens this page's own work).
 */
export function showVideoInUrl(path: string, share: string | null = null): void {
  const url = new URL(window.location.href);
  if (url.searchParams.get('video') === path && url.searchParams.get('share') === share) return;
  url.searchParams.set('video', path);
  if (share) url.searchParams.set('share', share);
  else url.searchParams.delete('share');
  window.history.replaceState(window.history.state, '', url);
}

const PROPOSALS_KEY = 'sam2-demo-proposals-v1';
/** Videos whose proposals are remembered at most (they can be large: masks). */
const MAX_PROPOSAL_VIDEOS = 4;

/** A finished run's proposals still waiting to be kept or dropped. */
export interface SavedProposals {
  frameIndex: number;
  candidates: number;
  items: ProposalItem[];
  savedAt: number;
}

function isSavedProposals(v: unknown): v is SavedProposals {
  const p = v as SavedProposals | null;
  return !!p && typeof p.frameIndex === 'number' && typeof p.candidates === 'number' && Array.isArray(p.items) &&
    p.items.every((i) => typeof i?.key === 'number' && typeof i.color === 'string' && typeof i.proposal?.rleMask?.counts === 'string');
}

function readProposals(): Record<string, SavedProposals> {
  try {
    const parsed = JSON.parse(localStorage.getItem(PROPOSALS_KEY) ?? '{}') as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed ?? {}).filter((e): e is [string, SavedProposals] => isSavedProposals(e[1])));
  } catch {
    return {};
  }
}

/** Every video's saved proposals, by path. */
export function loadProposals(): Record<string, SavedProposals> {
  return readProposals();
}

/**
 * Keep (or with null, forget) a video's proposals. Kept apart from the
 * work: when storage is full they are the ones that give way.
 */
export function saveProposals(path: string, proposals: Omit<SavedProposals, 'savedAt'> | null): void {
  const all = readProposals();
  if (proposals) all[path] = { ...proposals, savedAt: Date.now() };
  else delete all[path];
  const kept = Object.entries(all).sort((a, b) => b[1].savedAt - a[1].savedAt).slice(0, MAX_PROPOSAL_VIDEOS);
  try {
    if (kept.length === 0) localStorage.removeItem(PROPOSALS_KEY);
    else localStorage.setItem(PROPOSALS_KEY, JSON.stringify(Object.fromEntries(kept)));
  } catch {
    // Too large for the storage left: keep none rather than crowd out the work.
    try {
      localStorage.removeItem(PROPOSALS_KEY);
    } catch {
      // disabled storage
    }
  }
}
