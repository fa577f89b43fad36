import { describe, expect, it } from 'vitest';
import { boundaryFromContentType, interpretPart, MultipartError, MultipartStreamParser, type StreamPart } from './multipart';

const enc = new TextEncoder();

function framePart(i: number, total: number, eol = '\r\n', withLength = true): string {
  const body = JSON.stringify({ frame_index: i, results: [{ object_id: 1, mask: { size: [2, 2], counts: '04' } }] });
  const headers = [`Content-Type: application/json`];
  if (withLength) headers.push(`Content-Length: ${enc.encode(body).length}`);
  headers.push(`Frame-Current: ${i + 1}`, `Frame-Total: ${total}`);
  return `--frame${eol}${headers.join(eol)}${eol}${eol}${body}${eol}`;
}

function stream(n: number, eol = '\r\n', withLength = true, close = true): Uint8Array {
  let s = '';
  for (let i = 0; i < n; i++) s += framePart(i, n, eol, withLength);
  if (close) s += `--frame--${eol}`;
  return enc.encode(s);
}

/** Feed `bytes` cut at the given positions; returns the parts and whether the close was seen. */
function feed(bytes: Uint8Array, cuts: number[]): { parts: StreamPart[]; closed: boolean } {
  const parser = new MultipartStreamParser('frame');
  const parts: StreamPart[] = [];
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    parts.push(...parser.push(bytes.subarray(prev, cut)));
    prev = cut;
  }
  return { parts, closed: parser.closed };
}

function frameIndices(parts: StreamPart[]): number[] {
  return parts.map((p) => {
    const ev = interpretPart(p);
    if (ev.type !== 'frame') throw new Error(ev.type === 'error' ? ev.message : `unexpected ${ev.type} part`);
    return ev.frameIndex;
  });
}

describe('MultipartStreamParser', () => {
  it('reads a whole stream in one chunk, several parts at once', () => {
    const { parts, closed } = feed(stream(5), []);
    expect(frameIndices(parts)).toEqual([0, 1, 2, 3, 4]);
    expect(closed).toBe(true);
  });

  it('gives the same parts for every single cut position', () => {
    const bytes = stream(3);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { parts, closed } = feed(bytes, [cut]);
      expect(frameIndices(parts), `cut at ${cut}`).toEqual([0, 1, 2]);
      expect(closed).toBe(true);
    }
  });

  it('survives one byte per chunk', () => {
    const bytes = stream(4);
    const cuts = Array.from({ length: bytes.length }, (_, i) => i);
    expect(frameIndices(feed(bytes, cuts).parts)).toEqual([0, 1, 2, 3]);
  });

  it('splits between CR and LF of every line end', () => {
    const bytes = stream(2);
    const crPositions = [...bytes.keys()].filter((i) => bytes[i] === 13).map((i) => i + 1);
    for (const cut of crPositions) {
      expect(frameIndices(feed(bytes, [cut]).parts)).toEqual([0, 1]);
    }
  });

  it('accepts LF-only line ends', () => {
    const bytes = stream(3, '\n');
    for (let cut = 0; cut <= bytes.length; cut += 7) {
      expect(frameIndices(feed(bytes, [cut]).parts)).toEqual([0, 1, 2]);
    }
  });

  it('reads parts without Content-Length up to the next boundary', () => {
    const bytes = stream(3, '\r\n', false);
    for (let cut = 0; cut <= bytes.length; cut += 5) {
      const { parts, closed } = feed(bytes, [cut]);
      expect(frameIndices(parts)).toEqual([0, 1, 2]);
      expect(closed).toBe(true);
    }
  });

  it('passes headers, ignores a preamble and transport padding', () => {
    const body = '{"frame_index":7,"results":[]}';
    const text = `preamble text\r\n--frame  \r\ncontent-length: ${body.length}\r\nFRAME-TOTAL: 9\r\n\r\n${body}\r\n--frame--`;
    const { parts, closed } = feed(enc.encode(text), [3, 20]);
    expect(parts).toHaveLength(1);
    expect(parts[0].headers['frame-total']).toBe('9');
    expect(interpretPart(parts[0])).toMatchObject({ type: 'frame', frameIndex: 7, total: 9, results: [] });
    expect(closed).toBe(true);
  });

  it('keeps CRLF and boundary-like text inside a sized body', () => {
    const body = '{"frame_index":1,"results":[],"note":"a\\r\\n--frame\\r\\n"}';
    const raw = `--frame\r\nContent-Length: ${body.length}\r\n\r\n${body}\r\n--frame--\r\n`;
    const { parts } = feed(enc.encode(raw), [raw.indexOf('--frame', 10) + 2]);
    expect(new TextDecoder().decode(parts[0].body)).toBe(body);
  });

  it('reports an unfinished stream as not closed and keeps incomplete parts back', () => {
    const bytes = stream(3, '\r\n', true, false);
    const { parts, closed } = feed(bytes.subarray(0, bytes.length - 10), []);
    expect(frameIndices(parts)).toEqual([0, 1]);
    expect(closed).toBe(false);
  });

  it('ignores bytes after the closing delimiter', () => {
    const bytes = enc.encode(new TextDecoder().decode(stream(1)) + '--frame\r\nContent-Length: 2\r\n\r\n{}\r\n');
    expect(frameIndices(feed(bytes, []).parts)).toEqual([0]);
  });

  it('rejects malformed headers and lengths with clear errors', () => {
    expect(() => new MultipartStreamParser('frame').push(enc.encode('--frame\r\nno colon here\r\n\r\n'))).toThrow(MultipartError);
    expect(() => new MultipartStreamParser('frame').push(enc.encode('--frame\r\nContent-Length: -4\r\n\r\n'))).toThrow(/invalid Content-Length/);
    expect(() => new MultipartStreamParser('frame').push(enc.encode('--frameXY'))).toThrow(/unexpected bytes/);
    const huge = new Uint8Array(70 * 1024).fill(65);
    expect(() => new MultipartStreamParser('frame').push(new Uint8Array([...enc.encode('--frame\r\n'), ...huge]))).toThrow(/too long/);
  });
});

describe('interpretPart', () => {
  const part = (body: string, headers: Record<string, string> = {}): StreamPart => ({ headers, body: enc.encode(body) });

  it('turns an error part into an error event', () => {
    expect(interpretPart(part('{"error":"model crashed"}'))).toEqual({ type: 'error', message: 'model crashed' });
    expect(interpretPart(part('{"error":{"message":"session expired"}}'))).toEqual({ type: 'error', message: 'session expired' });
  });
  it('turns the end part into an end event, whatever its body', () => {
    const end = { 'content-type': 'application/vnd.sam2-demo.end+json' };
    expect(interpretPart(part('{"end":true,"frames":7,"cancelled":false}', end))).toEqual({ type: 'end', frames: 7, cancelled: false });
    expect(interpretPart(part('{}', end))).toEqual({ type: 'end', frames: undefined, cancelled: undefined });
    const error = { 'content-type': 'application/vnd.sam2-demo.error+json' };
    expect(interpretPart(part('{"error":{"message":"shutting down","code":"SHUTTING_DOWN"}}', error))).toEqual({ type: 'error', message: 'shutting down' });
  });
  it('flags bodies that are not frames', () => {
    expect(interpretPart(part('not json')).type).toBe('error');
    expect(interpretPart(part('[1,2]')).type).toBe('error');
    expect(interpretPart(part('{"frame_index":"x"}')).type).toBe('error');
  });
  it('reads the progress headers', () => {
    const ev = interpretPart(part('{"frame_index":3,"results":[]}', { 'frame-current': '4', 'frame-total': '10' }));
    expect(ev).toEqual({ type: 'frame', frameIndex: 3, results: [], current: 4, total: 10 });
  });
});

describe('boundaryFromContentType', () => {
  it('reads plain and quoted boundaries', () => {
    expect(boundaryFromContentType('multipart/x-savi-stream; boundary=frame')).toBe('frame');
    expect(boundaryFromContentType('multipart/x-savi-stream; boundary="frame"; charset=utf-8')).toBe('frame');
  });
  it('rejects a non-multipart response', () => {
    expect(() => boundaryFromContentType('application/json')).toThrow(/not a multipart stream/);
    expect(() => boundaryFromContentType(null)).toThrow(MultipartError);
  });
});
