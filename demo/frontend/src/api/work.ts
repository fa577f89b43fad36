/**
 * A session's work as a whole: opening one the page did not make (a share
 * link's token), telling the server the objects' names and colours, and the
 * owner's share links. Answers are turned into the page's own prompt and
 * object shapes here, so the rest of the page never sees the wire format.
 */
import type { GraphQLClient } from './graphql';
import { videoFields } from './operations';
import { rememberRouteKey } from './sessionHeaders';
import { withDefaults, type Video, type VideoFromServer } from './types';
import { labelsFromObjects } from '../state/labels';
import { OBJECT_PALETTE, type ObjectsState, type TrackedObject } from '../state/objects';
import { keyOf, type FramePrompt, type PromptPoint } from '../state/prompts';

/** "owner": the session id itself; "edit" / "view": a share link's token. */
export type AccessMode = 'owner' | 'edit' | 'view';
export type LinkMode = 'edit' | 'view';

export interface ShareLink {
  token: string;
  mode: LinkMode;
}

export interface OpenedWork {
  /** What to name the session by from now on (the token, for a link's holder). */
  sessionId: string;
  mode: AccessMode;
  video: Video;
  objects: ObjectsState;
  prompts: Record<string, FramePrompt>;
}

interface WorkPromptFromServer {
  frameIndex: number;
  objectId: number;
  points: number[][];
  labels: number[];
  box: number[] | null;
  maskCounts: string | null;
}

interface WorkObjectFromServer {
  objectId: number;
  name: string;
  color: string;
  /** Its label's name ("" = none; absent from servers before labels). */
  label?: string;
  /** Its frame range (null: open; absent from servers before ranges). */
  firstFrame?: number | null;
  lastFrame?: number | null;
}

/** The page's prompts from the server's, keyed "objectId:frameIndex"; a mask prompt is at the video's size. */
export function promptsFromServer(prompts: readonly WorkPromptFromServer[], video: Pick<Video, 'width' | 'height'>): Record<string, FramePrompt> {
  const out: Record<string, FramePrompt> = {};
  for (const p of prompts) {
    const points: PromptPoint[] = p.points.map(([x, y], i) => ({ x, y, label: p.labels[i] === 0 ? 0 : 1 }));
    const box = p.box && p.box.length === 4 ? { x0: p.box[0], y0: p.box[1], x1: p.box[2], y1: p.box[3] } : null;
    const mask = p.maskCounts ? { size: [video.height, video.width] as [number, number], counts: p.maskCounts } : null;
    if (points.length === 0 && !box && !mask) continue;
    out[keyOf(p.objectId, p.frameIndex)] = mask ? { points, box, mask } : { points, box };
  }
  return out;
}

/**
 * The objects to show: those the server has names for, plus any object that
 * only has prompts (named and coloured as the page names new ones).
 */
export function objectsFromServer(objects: readonly WorkObjectFromServer[], prompted: readonly number[]): ObjectsState {
  const byId = new Map<number, TrackedObject>();
  const fallback = (id: number): TrackedObject => ({ id, name: `Object ${id}`, color: OBJECT_PALETTE[(id - 1) % OBJECT_PALETTE.length] });
  for (const o of objects) {
    byId.set(o.objectId, { ...fallback(o.objectId), ...(o.name ? { name: o.name } : {}), ...(o.color ? { color: o.color } : {}), ...(o.label ? { label: o.label } : {}),
      ...(o.firstFrame != null ? { firstFrame: o.firstFrame } : {}), ...(o.lastFrame != null ? { lastFrame: o.lastFrame } : {}) });
  }
  for (const id of prompted) if (!byId.has(id)) byId.set(id, fallback(id));
  const list = [...byId.values()].sort((a, b) => a.id - b.id);
  // The server keeps each object's label, not the set: the set is the labels in use.
  return { objects: list, selectedId: list[0]?.id ?? null, nextId: list.reduce((n, o) => Math.max(n, o.id + 1), 1), labels: labelsFromObjects(list) };
}

/** Open a session's work by its id or a share link's token (throws linkGone when the link was revoked). */
export async function fetchWork(client: GraphQLClient, sessionId: string): Promise<OpenedWork> {
  const fields = await videoFields(client);
  const data = await client.request<{
    work: { sessionId: string; mode: AccessMode; routeKey: string; video: VideoFromServer; objects: WorkObjectFromServer[]; prompts: WorkPromptFromServer[] };
  }>(
    `query Work($sessionId: String!) { work(sessionId: $sessionId) { sessionId mode routeKey video { ${fields} }
      objects { objectId name color label firstFrame lastFrame } prompts { frameIndex objectId points labels box maskCounts } } }`,
    { sessionId },
  );
  const w = data.work;
  rememberRouteKey(w.sessionId, w.routeKey);
  const video = withDefaults(w.video);
  const prompts = promptsFromServer(w.prompts, video);
  const prompted = [...new Set(w.prompts.map((p) => p.objectId))];
  return { sessionId: w.sessionId, mode: w.mode, video, objects: objectsFromServer(w.objects, prompted), prompts };
}

/** Store the objects' names, colours and labels with the work (what a link's holder sees). */
export async function updateObjects(client: GraphQLClient, sessionId: string, objects: readonly TrackedObject[]): Promise<boolean> {
  const data = await client.request<{ updateObjects: { success: boolean } }>(
    `mutation UpdateObjects($input: UpdateObjectsInput!) { updateObjects(input: $input) { success } }`,
    { input: { sessionId, objects: objects.map((o) => ({ objectId: o.id, name: o.name, color: o.color, label: o.label ?? '', firstFrame: o.firstFrame ?? null, lastFrame: o.lastFrame ?? null })) } },
  );
  return data.updateObjects.success;
}

export async function createShareLink(client: GraphQLClient, sessionId: string, mode: LinkMode): Promise<ShareLink> {
  const data = await client.request<{ createShareLink: ShareLink }>(
    `mutation CreateShareLink($input: CreateShareLinkInput!) { createShareLink(input: $input) { token mode } }`,
    { input: { sessionId, mode } },
  );
  return data.createShareLink;
}

export async function revokeShareLink(client: GraphQLClient, sessionId: string, token: string): Promise<boolean> {
  const data = await client.request<{ revokeShareLink: { success: boolean } }>(
    `mutation RevokeShareLink($input: RevokeShareLinkInput!) { revokeShareLink(input: $input) { success } }`,
    { input: { sessionId, token } },
  );
  return data.revokeShareLink.success;
}

export async function fetchShareLinks(client: GraphQLClient, sessionId: string): Promise<ShareLink[]> {
  const data = await client.request<{ shareLinks: ShareLink[] }>(
    `query ShareLinks($sessionId: String!) { shareLinks(sessionId: $sessionId) { token mode } }`,
    { sessionId },
  );
  return data.shareLinks;
}
