/**
 * GraphQL operations of "segment everything": run the automatic mask
 * generator on a frame, poll its progress, cancel it. A kept proposal
 * becomes an object through `addMask` (operations.ts).
 */
import type { GraphQLClient } from './graphql';
import type { RleMask } from '../render/rle';

/** One proposed object: its mask on the frame, best proposals first. */
export interface Proposal {
  rleMask: RleMask;
  /** Predicted IoU of the mask (0..1). */
  score: number;
  stabilityScore: number;
  /** Pixels of the mask (after the server made proposals disjoint). */
  area: number;
  /** x, y, width, height in video pixels. */
  bbox: [number, number, number, number];
  /** The grid point that produced it, normalised to [0, 1]. */
  point: [number, number];
}

export interface SegmentEverythingResult {
  frameIndex: number;
  proposals: Proposal[];
  candidates: number;
  cancelled: boolean;
  seconds: number;
}

export interface SegmentEverythingParams {
  /** Density: an N x N grid of point prompts (server default 16). */
  pointsPerSide?: number;
  /** Minimum predicted IoU, 0..1. */
  minScore?: number;
  minStability?: number;
  maxObjects?: number;
  minArea?: number;
  boxNmsThresh?: number;
}

export interface SegmentEverythingProgress {
  running: boolean;
  done: number;
  total: number;
}

export async function segmentEverything(
  client: GraphQLClient,
  sessionId: string,
  frameIndex: number,
  params: SegmentEverythingParams = {},
  signal?: AbortSignal,
): Promise<SegmentEverythingResult> {
  const data = await client.request<{ segmentEverything: SegmentEverythingResult }>(
    `mutation SegmentEverything($input: SegmentEverythingInput!) { segmentEverything(input: $input) {
      frameIndex candidates cancelled seconds
      proposals { score stabilityScore area bbox point rleMask { size counts } } } }`,
    { input: { sessionId, frameIndex, ...params } },
    signal,
  );
  return data.segmentEverything;
}

export async function fetchSegmentEverythingProgress(client: GraphQLClient, sessionId: string): Promise<SegmentEverythingProgress> {
  const data = await client.request<{ segmentEverythingProgress: SegmentEverythingProgress }>(
    `query SegmentEverythingProgress($sessionId: String!) { segmentEverythingProgress(sessionId: $sessionId) { running done total } }`,
    { sessionId },
  );
  return data.segmentEverythingProgress;
}

export async function cancelSegmentEverything(client: GraphQLClient, sessionId: string): Promise<boolean> {
  const data = await client.request<{ cancelSegmentEverything: { success: boolean } }>(
    `mutation CancelSegmentEverything($input: CancelSegmentEverythingInput!) { cancelSegmentEverything(input: $input) { success } }`,
    { input: { sessionId } },
  );
  return data.cancelSegmentEverything.success;
}
