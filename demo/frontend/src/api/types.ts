/** Shapes of the backend's GraphQL answers (camelCase, as the server names them). */
import type { RleMask } from '../render/rle';

export interface Video {
  id: string;
  path: string;
  posterPath: string | null;
  url: string;
  posterUrl: string | null;
  width: number;
  height: number;
  fps: number;
  numFrames: number;
  durationSec: number;
}

export interface ServerLimits {
  maxObjects: number;
  maxUploadMb: number;
  maxDurationSec: number;
}

export interface ServerInfo {
  modelSize: string;
  device: string;
  randomWeights: boolean;
  limits: ServerLimits;
}

export interface RleMaskForObject {
  objectId: number;
  rleMask: RleMask;
}

export interface RleMaskListOnFrame {
  frameIndex: number;
  rleMaskList: RleMaskForObject[];
}

/** Fallbacks used until (or if) `serverInfo` answers; the official server's values. */
export const DEFAULT_LIMITS: ServerLimits = { maxObjects: 16, maxUploadMb: 200, maxDurationSec: 10 };
