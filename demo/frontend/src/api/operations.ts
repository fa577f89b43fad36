/**
 * The backend's GraphQL operations, one typed function each. Query text
 * lives only here, so a schema change touches one file.
 */
import { ApiError, type GraphQLClient } from './graphql';
import { rememberRouteKey, requestHeaders } from './sessionHeaders';
import { withDefaults, type RleMaskListOnFrame, type ServerInfo, type Video, type VideoFromServer } from './types';
import type { RleMask } from '../render/rle';
import type { PromptBox } from '../state/prompts';

const BASE_VIDEO_FIELDS = 'id path posterPath url posterUrl width height fps numFrames durationSec';
const OPTIONAL_VIDEO_FIELDS = ['displayName', 'isUpload'];
const MASKS_FIELDS = 'frameIndex rleMaskList { objectId rleMask { size counts } }';

const videoFieldsByClient = new WeakMap<GraphQLClient, Promise<string>>();

/**
 * The Video fields to ask for: the base set plus displayName/isUpload when
 * the server's schema has them (older servers answer without), asked once.
 */
export function videoFields(client: GraphQLClient): Promise<string> {
  let fields = videoFieldsByClient.get(client);
  if (!fields) {
    fields = client
      .request<{ __type: { fields: { name: string }[] } | null }>('query VideoFields { __type(name: "Video") { fields { name } } }')
      .then((d) => {
        const have = new Set((d.__type?.fields ?? []).map((f) => f.name));
        return [BASE_VIDEO_FIELDS, ...OPTIONAL_VIDEO_FIELDS.filter((f) => have.has(f))].join(' ');
      })
      .catch(() => BASE_VIDEO_FIELDS);
    videoFieldsByClient.set(client, fields);
  }
  return fields;
}

/** The gallery plus this browser's own uploads. */
export async function fetchVideos(client: GraphQLClient): Promise<Video[]> {
  const fields = await videoFields(client);
  const data = await client.request<{ videos: { edges: { node: VideoFromServer }[] } }>(
    `query Videos { videos { edges { node { ${fields} } } } }`,
  );
  return data.videos.edges.map((e) => withDefaults(e.node));
}

export async function fetchDefaultVideo(client: GraphQLClient): Promise<Video | null> {
  const fields = await videoFields(client);
  const data = await client.request<{ defaultVideo: VideoFromServer | null }>(`query DefaultVideo { defaultVideo { ${fields} } }`);
  return data.defaultVideo ? withDefaults(data.defaultVideo) : null;
}

/**
 * Every mask a live session holds (`GET /export_masks`), by frame; doubles as
 * the check that the server still has the session after a reload.
 * Throws an ApiError (sessionGone, or linkGone for a share token) when it does not.
 */
export async function fetchSessionMasks(client: GraphQLClient, sessionId: string): Promise<RleMaskListOnFrame[]> {
  let response: Response;
  try {
    response = await fetch(`${client.baseUrl}/export_masks?format=coco&session_id=${encodeURIComponent(sessionId)}`, {
      headers: requestHeaders(sessionId),
    });
  } catch (err) {
    throw new ApiError(`Cannot reach the server at ${client.baseUrl}: ${(err as Error).message}`);
  }
  const body = (await response.json().catch(() => null)) as
    | { annotations?: { frame_index: number; object_id: number; segmentation: { size: [number, number]; counts: string } }[]; error?: { message?: string; code?: string } }
    | null;
  if (!response.ok || !body?.annotations) {
    throw new ApiError(body?.error?.message ?? `The server answered HTTP ${response.status}.`, body?.error?.code ?? (response.status === 410 ? 'SESSION_EXPIRED' : null));
  }
  const byFrame = new Map<number, RleMaskListOnFrame>();
  for (const a of body.annotations) {
    let f = byFrame.get(a.frame_index);
    if (!f) byFrame.set(a.frame_index, (f = { frameIndex: a.frame_index, rleMaskList: [] }));
    f.rleMaskList.push({ objectId: a.object_id, rleMask: { size: a.segmentation.size, counts: a.segmentation.counts } });
  }
  return [...byFrame.values()];
}

export async function fetchServerInfo(client: GraphQLClient): Promise<ServerInfo> {
  const data = await client.request<{
    serverInfo: {
      modelSize: string;
      device: string;
      precision: string;
      randomWeights: boolean;
      maxObjects: number;
      maxUploadMb: number;
      maxDurationSec: number;
    };
  }>(`query ServerInfo { serverInfo { modelSize device precision randomWeights maxObjects maxUploadMb maxDurationSec } }`);
  const s = data.serverInfo;
  return {
    modelSize: s.modelSize,
    device: s.device,
    precision: s.precision,
    randomWeights: s.randomWeights,
    limits: { maxObjects: s.maxObjects, maxUploadMb: s.maxUploadMb, maxDurationSec: s.maxDurationSec },
  };
}

/** A new session on a video; its route key is remembered for the session's later requests. */
export async function startSession(client: GraphQLClient, path: string): Promise<string> {
  const data = await client.request<{ startSession: { sessionId: string; routeKey: string } }>(
    `mutation StartSession($input: StartSessionInput!) { startSession(input: $input) { sessionId routeKey } }`,
    { input: { path } },
  );
  rememberRouteKey(data.startSession.sessionId, data.startSession.routeKey);
  return data.startSession.sessionId;
}

export async function closeSession(client: GraphQLClient, sessionId: string): Promise<boolean> {
  const data = await client.request<{ closeSession: { success: boolean } }>(
    `mutation CloseSession($input: CloseSessionInput!) { closeSession(input: $input) { success } }`,
    { input: { sessionId } },
  );
  return data.closeSession.success;
}

/** Send the whole point set of one object on one frame (replacing what the server had). */
export async function addPoints(
  client: GraphQLClient,
  sessionId: string,
  frameIndex: number,
  objectId: number,
  points: [number, number][],
  labels: number[],
): Promise<RleMaskListOnFrame> {
  const data = await client.request<{ addPoints: RleMaskListOnFrame }>(
    `mutation AddPoints($input: AddPointsInput!) { addPoints(input: $input) { ${MASKS_FIELDS} } }`,
    { input: { sessionId, frameIndex, objectId, points, labels, clearOldPoints: true } },
  );
  return data.addPoints;
}

/** Prompt one object on one frame by a whole mask (COCO RLE at the video's size), replacing its prompts there. */
export async function addMask(
  client: GraphQLClient,
  sessionId: string,
  frameIndex: number,
  objectId: number,
  mask: RleMask,
): Promise<RleMaskListOnFrame> {
  const data = await client.request<{ addMask: RleMaskListOnFrame }>(
    `mutation AddMask($input: AddMaskInput!) { addMask(input: $input) { ${MASKS_FIELDS} } }`,
    { input: { sessionId, frameIndex, objectId, rleMask: { size: mask.size, counts: mask.counts, order: 'F' } } },
  );
  return data.addMask;
}

/** Send a box (normalised corners) and optional points for one object on one frame. */
export async function addBox(
  client: GraphQLClient,
  sessionId: string,
  frameIndex: number,
  objectId: number,
  box: PromptBox,
  points: [number, number][],
  labels: number[],
): Promise<RleMaskListOnFrame> {
  const data = await client.request<{ addBox: RleMaskListOnFrame }>(
    `mutation AddBox($input: AddBoxInput!) { addBox(input: $input) { ${MASKS_FIELDS} } }`,
    { input: { sessionId, frameIndex, objectId, box: [box.x0, box.y0, box.x1, box.y1], points, labels } },
  );
  return data.addBox;
}

export async function clearPointsInFrame(
  client: GraphQLClient,
  sessionId: string,
  frameIndex: number,
  objectId: number,
): Promise<RleMaskListOnFrame> {
  const data = await client.request<{ clearPointsInFrame: RleMaskListOnFrame }>(
    `mutation ClearPointsInFrame($input: ClearPointsInFrameInput!) { clearPointsInFrame(input: $input) { ${MASKS_FIELDS} } }`,
    { input: { sessionId, frameIndex, objectId } },
  );
  return data.clearPointsInFrame;
}

export async function clearPointsInVideo(client: GraphQLClient, sessionId: string): Promise<boolean> {
  const data = await client.request<{ clearPointsInVideo: { success: boolean } }>(
    `mutation ClearPointsInVideo($input: ClearPointsInVideoInput!) { clearPointsInVideo(input: $input) { success } }`,
    { input: { sessionId } },
  );
  return data.clearPointsInVideo.success;
}

export async function removeObject(client: GraphQLClient, sessionId: string, objectId: number): Promise<RleMaskListOnFrame[]> {
  const data = await client.request<{ removeObject: RleMaskListOnFrame[] }>(
    `mutation RemoveObject($input: RemoveObjectInput!) { removeObject(input: $input) { ${MASKS_FIELDS} } }`,
    { input: { sessionId, objectId } },
  );
  return data.removeObject;
}

/** Delete an object's masks on frames firstFrame..lastFrame (inclusive) and its prompts there; how many masks went. */
export async function deleteMasks(client: GraphQLClient, sessionId: string, objectId: number, firstFrame: number, lastFrame: number): Promise<number> {
  const data = await client.request<{ deleteMasks: { deleted: number } }>(
    `mutation DeleteMasks($input: DeleteMasksInput!) { deleteMasks(input: $input) { deleted } }`,
    { input: { sessionId, objectId, firstFrame, lastFrame } },
  );
  return data.deleteMasks.deleted;
}

export async function cancelPropagateInVideo(client: GraphQLClient, sessionId: string): Promise<boolean> {
  const data = await client.request<{ cancelPropagateInVideo: { success: boolean } }>(
    `mutation CancelPropagate($input: CancelPropagateInVideoInput!) { cancelPropagateInVideo(input: $input) { success } }`,
    { input: { sessionId } },
  );
  return data.cancelPropagateInVideo.success;
}
