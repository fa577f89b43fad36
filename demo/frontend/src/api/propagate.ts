/**
 * Stream a propagation from `POST /propagate_in_video` and hand each frame's
 * masks to a callback as it arrives.
 */
import { ApiError } from './graphql';
import { requestHeaders } from './sessionHeaders';
import { boundaryFromContentType, interpretPart, MultipartStreamParser } from './multipart';
import type { RleMaskListOnFrame } from './types';

export interface PropagationOptions {
  sessionId: string;
  startFrameIndex: number;
  /** Server default: both (forward to the end, then back to frame 0). */
  direction?: 'forward' | 'backward' | 'both';
  /** Called for every frame part, in stream order. */
  onFrame: (masks: RleMaskListOnFrame, current?: number, total?: number) => void;
  signal?: AbortSignal;
}

export interface PropagationResult {
  frames: number;
  /** False when the stream was cut short: no end part (nor, from older servers, `--frame--`). */
  closed: boolean;
}

export async function streamPropagation(baseUrl: string, opts: PropagationOptions): Promise<PropagationResult> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/propagate_in_video`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...requestHeaders(opts.sessionId) },
      body: JSON.stringify({ session_id: opts.sessionId, start_frame_index: opts.startFrameIndex, direction: opts.direction ?? 'both' }),
      signal: opts.signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(`Cannot reach the server to track: ${(err as Error).message}`);
  }
  if (!response.ok) {
    let message = `Tracking failed: HTTP ${response.status}`;
    let code: string | null = null;
    try {
      const body = (await response.json()) as { error?: string | { message?: string; code?: string }; message?: string };
      const err = body.error;
      message = (typeof err === 'string' ? err : err?.message) ?? body.message ?? message;
      code = typeof err === 'object' ? (err.code ?? null) : null;
    } catch {
      // not JSON; keep the status line
    }
    throw new ApiError(message, code);
  }
  if (!response.body) throw new ApiError('Tracking failed: the response has no body to stream.');
  const parser = new MultipartStreamParser(boundaryFromContentType(response.headers.get('Content-Type')));
  const reader = response.body.getReader();
  let frames = 0;
  let ended = false;
  try {
    while (!ended) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const part of parser.push(value)) {
        const event = interpretPart(part);
        if (event.type === 'error') throw new ApiError(event.message);
        if (event.type === 'end') {
          ended = true; // the last part: anything after it is not ours to read
          break;
        }
        frames++;
        opts.onFrame(
          {
            frameIndex: event.frameIndex,
            rleMaskList: event.results.map((r) => ({ objectId: r.object_id, rleMask: { size: r.mask.size, counts: r.mask.counts } })),
          },
          event.current,
          event.total,
        );
      }
      if (parser.closed) break;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return { frames, closed: ended || parser.closed };
}
