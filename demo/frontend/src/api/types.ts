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
  /** The name to show: the original file name of an upload, a title for gallery clips. */
  displayName: string;
  /** Uploaded by this browser (the server lists only the caller's own uploads). */
  isUpload: boolean;
}

/** A Video as the server sent it; servers before displayName/isUpload lack them. */
export type VideoFromServer = Omit<Video, 'displayName' | 'isUpload'> & Partial<Pick<Video, 'displayName' | 'isUpload'>>;

/** Fill displayName/isUpload from the path when the server did not send them. */
export function withDefaults(v: VideoFromServer): Video {
  const file = v.path.split('/').pop() ?? v.path;
  return { ...v, displayName: v.displayName ?? file, isUpload: v.isUpload ?? v.path.startsWith('uploads/') };
}

export interface ServerLimits {
  maxObjects: number;
  maxUploadMb: number;
  maxDurationSec: number;
}

export interface ServerInfo {
  modelSize: string;
  device: string;
  /** The model's compute precision on the server: fp32, bf16 or int8. */
  precision: string;
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
