/**
 * Incremental parser for the `multipart/x-savi-stream` response of
 * `POST /propagate_in_video`.
 *
 * Bytes arrive in chunks that may split anywhere (inside a boundary, a
 * header, between CR and LF, inside a body) or hold several parts at once.
 * `push` buffers what it cannot finish yet and returns every part that is
 * complete. A part is read by its `Content-Length` header when present,
 * otherwise up to the next boundary line. LF-only line ends are accepted.
 */

export interface StreamPart {
  /** Header names lower-cased, values trimmed. */
  headers: Record<string, string>;
  body: Uint8Array;
}

export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

/** Longest header block accepted; a stream without line ends is broken, not slow. */
const MAX_HEADER_BYTES = 64 * 1024;

type ParserState = 'seekBoundary' | 'afterBoundary' | 'headers' | 'body' | 'done';

const CR = 13;
const LF = 10;

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const last = haystack.length - needle.length;
  outer: for (let i = Math.max(from, 0); i <= last; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** Read the boundary out of a Content-Type such as `multipart/x-savi-stream; boundary=frame`. */
export function boundaryFromContentType(contentType: string | null): string {
  const match = /boundary="?([^";]+)"?/i.exec(contentType ?? '');
  if (!match) throw new MultipartError(`response is not a multipart stream (Content-Type: ${contentType ?? 'none'})`);
  return match[1].trim();
}

export class MultipartStreamParser {
  private readonly delimiter: Uint8Array; // "--" + boundary
  private buffer = new Uint8Array(0);
  private state: ParserState = 'seekBoundary';
  private headers: Record<string, string> = {};
  private headerBytes = 0;

  constructor(boundary: string) {
    if (!boundary) throw new MultipartError('empty multipart boundary');
    this.delimiter = new TextEncoder().encode(`--${boundary}`);
  }

  /** True once the closing delimiter (`--boundary--`) has been read. */
  get closed(): boolean {
    return this.state === 'done';
  }

  /** Feed the next chunk; returns the parts it completed, in order. */
  push(chunk: Uint8Array): StreamPart[] {
    if (this.state === 'done') return [];
    this.append(chunk);
    const parts: StreamPart[] = [];
    let progressed = true;
    while (progressed && !this.closed) {
      progressed = this.step(parts);
    }
    return parts;
  }

  private append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const merged = new Uint8Array(this.buffer.length + chunk.length);
    merged.set(this.buffer, 0);
    merged.set(chunk, this.buffer.length);
    this.buffer = merged;
  }

  private consume(n: number): void {
    this.buffer = this.buffer.subarray(n);
  }

  /** One state transition; false when more bytes are needed. */
  private step(parts: StreamPart[]): boolean {
    switch (this.state) {
      case 'seekBoundary': {
        const at = indexOfBytes(this.buffer, this.delimiter, 0);
        if (at < 0) {
          // Keep a tail long enough to hold a delimiter cut in half.
          const keep = this.delimiter.length;
          if (this.buffer.length > keep) this.consume(this.buffer.length - keep);
          return false;
        }
        this.consume(at + this.delimiter.length);
        this.state = 'afterBoundary';
        return true;
      }
      case 'afterBoundary': {
        if (this.buffer.length < 2) return false;
        if (this.buffer[0] === 45 && this.buffer[1] === 45) {
          this.state = 'done';
          return true;
        }
        // Skip transport padding (spaces/tabs) up to the line end.
        let i = 0;
        while (i < this.buffer.length && (this.buffer[i] === 32 || this.buffer[i] === 9)) i++;
        if (i >= this.buffer.length) return false;
        if (this.buffer[i] === LF) {
          this.consume(i + 1);
        } else if (this.buffer[i] === CR) {
          if (i + 1 >= this.buffer.length) return false;
          if (this.buffer[i + 1] !== LF) throw new MultipartError('boundary line not ended by CRLF');
          this.consume(i + 2);
        } else {
          throw new MultipartError('unexpected bytes after a boundary');
        }
        this.headers = {};
        this.headerBytes = 0;
        this.state = 'headers';
        return true;
      }
      case 'headers': {
        const lf = this.buffer.indexOf(LF);
        if (lf < 0) {
          if (this.headerBytes + this.buffer.length > MAX_HEADER_BYTES) throw new MultipartError('part headers too long');
          return false;
        }
        const end = lf > 0 && this.buffer[lf - 1] === CR ? lf - 1 : lf;
        const line = new TextDecoder().decode(this.buffer.subarray(0, end));
        this.headerBytes += lf + 1;
        if (this.headerBytes > MAX_HEADER_BYTES) throw new MultipartError('part headers too long');
        this.consume(lf + 1);
        if (line === '') {
          this.state = 'body';
          return true;
        }
        const colon = line.indexOf(':');
        if (colon <= 0) throw new MultipartError(`malformed part header: ${line.slice(0, 80)}`);
        this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        return true;
      }
      case 'body': {
        const lengthHeader = this.headers['content-length'];
        if (lengthHeader !== undefined) {
          const length = Number(lengthHeader);
          if (!Number.isInteger(length) || length < 0) {
            throw new MultipartError(`invalid Content-Length: ${lengthHeader}`);
          }
          if (this.buffer.length < length) return false;
          parts.push({ headers: this.headers, body: this.buffer.slice(0, length) });
          this.consume(length);
        } else {
          // Without a length the body ends at the line break before the next delimiter.
          const marker = new Uint8Array(this.delimiter.length + 1);
          marker[0] = LF;
          marker.set(this.delimiter, 1);
          const at = indexOfBytes(this.buffer, marker, 0);
          if (at < 0) return false;
          const end = at > 0 && this.buffer[at - 1] === CR ? at - 1 : at;
          parts.push({ headers: this.headers, body: this.buffer.slice(0, end) });
          this.consume(at + 1);
        }
        this.state = 'seekBoundary';
        return true;
      }
      case 'done':
        return false;
    }
  }
}

/** One frame's masks as the stream sends them. */
export interface StreamedMask {
  object_id: number;
  mask: { size: [number, number]; counts: string };
}

/**
 * Content types of the stream's last part. Our server ends a stream with one of these and no
 * closing delimiter: Meta's official page refuses `--frame--` but passes over parts that are
 * not `application/json`, so both pages read the same stream. A stream that stops without
 * either was cut short.
 */
export const END_PART_TYPE = 'application/vnd.sam2-demo.end+json';
export const ERROR_PART_TYPE = 'application/vnd.sam2-demo.error+json';

export type PropagationEvent =
  | {
      type: 'frame';
      frameIndex: number;
      results: StreamedMask[];
      /** From the Frame-Current / Frame-Total headers when the server sends them. */
      current?: number;
      total?: number;
    }
  | { type: 'error'; message: string }
  /** The server's last part: the stream is complete. */
  | { type: 'end'; frames?: number; cancelled?: boolean };

function optionalInt(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Turn one part into a typed event; malformed JSON becomes an error event. */
export function interpretPart(part: StreamPart): PropagationEvent {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(part.body));
  } catch {
    return { type: 'error', message: 'the server sent a part that is not JSON' };
  }
  if (typeof data !== 'object' || data === null) {
    return { type: 'error', message: 'the server sent a part that is not a JSON object' };
  }
  const obj = data as Record<string, unknown>;
  if (part.headers['content-type'] === END_PART_TYPE) {
    return {
      type: 'end',
      frames: typeof obj.frames === 'number' ? obj.frames : undefined,
      cancelled: typeof obj.cancelled === 'boolean' ? obj.cancelled : undefined,
    };
  }
  if ('error' in obj) {
    const err = obj.error;
    const message =
      typeof err === 'string' ? err : typeof err === 'object' && err !== null && 'message' in err ? String((err as { message: unknown }).message) : JSON.stringify(err);
    return { type: 'error', message };
  }
  if (typeof obj.frame_index !== 'number' || !Array.isArray(obj.results)) {
    return { type: 'error', message: 'the server sent a part without frame_index/results' };
  }
  return {
    type: 'frame',
    frameIndex: obj.frame_index,
    results: obj.results as StreamedMask[],
    current: optionalInt(part.headers['frame-current']),
    total: optionalInt(part.headers['frame-total']),
  };
}
