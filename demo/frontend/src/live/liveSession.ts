/**
 * The page's side of a live camera (WebSocket `/live`, see docs/live-camera.md): frames out
 * with a number, masks back for the frames the server tracked.
 *
 * Backpressure: at most `maxInFlight` frames are sent and not yet answered (or reported
 * dropped); the capture loop asks `canSend()` before it encodes a frame, so a slow server
 * makes the page send less instead of building a queue. Each frame's capture time is kept
 * until its answer, which gives the capture-to-mask delay the page shows.
 */
import { apiBaseUrl } from '../api/config';
import type { RleMask } from '../render/rle';

export interface LiveObjectMask {
  objectId: number;
  rleMask: RleMask;
}

export type ServerMessage =
  | { type: 'started'; liveId: string; maxFps: number; keepFrames: number; maxSeconds: number; maxObjects: number }
  | { type: 'masks'; frame: number; objects: LiveObjectMask[]; dropped: number[]; droppedCount: number; serverMs: number }
  | { type: 'prompted'; id?: string; frame: number; objects: LiveObjectMask[] }
  | { type: 'removed'; id?: string; objectId: number }
  | { type: 'recording'; on: boolean; fps?: number; frames?: number }
  | { type: 'recorded'; path: string; numFrames: number; sessionId: string; objects: number[] }
  | { type: 'error'; code: string; message: string; fatal: boolean; id?: string }
  | { type: 'end'; frames: number; droppedCount: number; reason: string };

/** A frame message: 4 bytes big-endian frame number, then the encoded image. */
export function frameMessage(seq: number, image: ArrayBuffer): ArrayBuffer {
  const out = new Uint8Array(4 + image.byteLength);
  new DataView(out.buffer).setUint32(0, seq, false);
  out.set(new Uint8Array(image), 4);
  return out.buffer;
}

/** The WebSocket address of `/live` for an http(s) API base. */
export function liveUrl(base: string = apiBaseUrl()): string {
  const url = new URL('/live', `${base}/`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** Frames in flight and their capture times: what the backpressure and the delay read. */
export class FrameLedger {
  private captured = new Map<number, number>();
  private delays: number[] = [];
  nextSeq = 0;
  answered = 0;
  dropped = 0;

  constructor(readonly maxInFlight = 2, private readonly window = 30) {}

  get inFlight(): number {
    return this.captured.size;
  }

  canSend(): boolean {
    return this.captured.size < this.maxInFlight;
  }

  /** A new frame number, remembered with its capture time (ms). */
  sent(capturedAt: number): number {
    const seq = this.nextSeq++;
    this.captured.set(seq, capturedAt);
    return seq;
  }

  /** The server answered `seq` (shown at `now`) and dropped `dropped`; returns the delay in ms. */
  answer(seq: number, dropped: number[], droppedCount: number, now: number): number | null {
    for (const d of dropped) this.captured.delete(d);
    this.dropped += droppedCount;
    // The server answers frames in order: an older frame still waiting will never be answered.
    for (const s of [...this.captured.keys()]) if (s < seq) this.captured.delete(s);
    const at = this.captured.get(seq);
    this.captured.delete(seq);
    if (at === undefined) return null;
    this.answered++;
    const delay = now - at;
    this.delays.push(delay);
    if (this.delays.length > this.window) this.delays.shift();
    return delay;
  }

  /** The server refused a frame (BAD_FRAME, which names none): nothing counts as in flight. */
  forgetInFlight(): void {
    this.captured.clear();
  }

  /** Median capture-to-mask delay of the last answers (ms), or null before the first. */
  medianDelay(): number | null {
    if (!this.delays.length) return null;
    const sorted = [...this.delays].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }
}

/** One live session over a WebSocket: typed messages in, frames and prompts out. */
export class LiveConnection {
  private ws: WebSocket;
  private promptCount = 0;

  constructor(
    width: number,
    height: number,
    clientId: string,
    private readonly onMessage: (m: ServerMessage) => void,
    private readonly onClose: (why: string) => void,
    url: string = liveUrl(),
  ) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => this.ws.send(JSON.stringify({ type: 'start', width, height, clientId }));
    this.ws.onmessage = (e) => {
      if (typeof e.data === 'string') this.onMessage(JSON.parse(e.data) as ServerMessage);
    };
    this.ws.onclose = (e) => this.onClose(e.reason || `connection closed (${e.code})`);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendFrame(seq: number, image: ArrayBuffer): void {
    if (this.open) this.ws.send(frameMessage(seq, image));
  }

  /** A click (x, y normalised to [0, 1]; label 1 positive, 0 negative) on frame `frame`. */
  addPoint(frame: number, objectId: number, x: number, y: number, label: 0 | 1, clearOldPoints: boolean): string {
    return this.command({ type: 'addPoints', frame, objectId, points: [[x, y]], labels: [label], clearOldPoints });
  }

  removeObject(objectId: number): string {
    return this.command({ type: 'removeObject', objectId });
  }

  record(on: boolean): void {
    this.command({ type: 'record', on });
  }

  stop(): void {
    this.command({ type: 'stop' });
  }

  close(): void {
    this.ws.close();
  }

  private command(message: Record<string, unknown>): string {
    const id = `c${++this.promptCount}`;
    if (this.open) this.ws.send(JSON.stringify({ ...message, id }));
    return id;
  }
}
