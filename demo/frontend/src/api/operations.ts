/**
 * The backend's GraphQL operations, one typed function each. Query text
 * lives only here, so a schema change touches one file.
 */
import type { GraphQLClient } from './graphql';
import type { RleMaskListOnFrame, ServerInfo, Video } from './types';
import type { PromptBox } from '../state/prompts';

const VIDEO_FIELDS = 'id path posterPath url posterUrl width height fps numFrames durationSec';
const MASKS_FIELDS = 'frameIndex rleMaskList { objectId rleMask { size counts } }';

export async function fetchVideos(client: GraphQLClient): Promise<Video[]> {
  const data = await client.request<{ videos: { edges: { node: Video }[] } }>(
    `query Videos { videos { edges { node { ${VIDEO_FIELDS} } } } }`,
  );
  return data.videos.edges.map((e) => e.node);
}

export async function fetchDefaultVideo(client: GraphQLClient): Promise<Video | null> {
  const data = await client.request<{ defaultVideo: Video | null }>(`query DefaultVideo { defaultVideo { ${VIDEO_FIELDS} } }`);
  return data.defaultVideo;
}

export async function fetchServerInfo(client: GraphQLClient): Promise<ServerInfo> {
  const data = await client.request<{
    serverInfo: { modelSize: string; device: string; randomWeights: boolean; maxObjects: number; maxUploadMb: number; maxDurationSec: number };
  }>(`query ServerInfo { serverInfo { modelSize device randomWeights maxObjects maxUploadMb maxDurationSec } }`);
  const s = data.serverInfo;
  return {
    modelSize: s.modelSize,
    device: s.device,
    randomWeights: s.randomWeights,
    limits: { maxObjects: s.maxObjects, maxUploadMb: s.maxUploadMb, maxDurationSec: s.maxDurationSec },
  };
}

export async function startSession(client: GraphQLClient, path: string): Promise<string> {
  const data = await client.request<{ startSession: { sessionId: string } }>(
    `mutation StartSession($input: StartSessionInput!) { startSession(input: $input) { sessionId } }`,
    { input: { path } },
  );
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

export async function cancelPropagateInVideo(client: GraphQLClient, sessionId: string): Promise<boolean> {
  const data = await client.request<{ cancelPropagateInVideo: { success: boolean } }>(
    `mutation CancelPropagate($input: CancelPropagateInVideoInput!) { cancelPropagateInVideo(input: $input) { success } }`,
    { input: { sessionId } },
  );
  return data.cancelPropagateInVideo.success;
}
