/**
 * What the browser can tell about a file before uploading it, against the
 * server's limits: empty, too large, not a video, too long. The server checks
 * again (content, not names); this only saves a pointless upload.
 */
import type { ServerLimits } from '../api/types';

export interface UploadProblem {
  problem: string;
  /** Only the length is wrong: uploading the first maxDurationSec seconds would work. */
  tooLong: boolean;
}

const VIDEO_EXTENSIONS = /\.(mp4|m4v|mov|webm|mkv|avi|mpe?g|ogv|3gp)$/i;

/**
 * @param file name, size (bytes) and MIME type of the chosen file
 * @param durationSec its duration as the browser reads it, or null when unknown
 * @returns null when it may be sent
 */
export function checkUploadFile(
  file: { name: string; size: number; type: string },
  limits: Pick<ServerLimits, 'maxUploadMb' | 'maxDurationSec'>,
  durationSec: number | null,
): UploadProblem | null {
  const refuse = (problem: string, tooLong = false) => ({ problem, tooLong });
  if (file.size === 0) return refuse(`"${file.name}" is empty.`);
  if (file.size > limits.maxUploadMb * 1024 * 1024) {
    return refuse(`"${file.name}" is too large: ${(file.size / 1048576).toFixed(1)} MB, the server accepts up to ${limits.maxUploadMb} MB.`);
  }
  if (!file.type.startsWith('video/') && !VIDEO_EXTENSIONS.test(file.name)) {
    return refuse(`"${file.name}" is not a video file (${file.type || 'unknown type'}).`);
  }
  // A little slack: container durations are often a frame longer than the limit allows.
  if (durationSec !== null && durationSec > limits.maxDurationSec + 0.05) {
    return refuse(`"${file.name}" is too long: ${durationSec.toFixed(1)} s, the server accepts up to ${limits.maxDurationSec} s.`, true);
  }
  return null;
}
