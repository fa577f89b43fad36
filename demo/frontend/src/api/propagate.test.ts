// streamPropagation against a real HTTP server on a free port that writes the
// multipart stream in awkward chunks, with delays, errors and early ends.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from './graphql';
import { streamPropagation } from './propagate';

function part(body: object, current: number, total: number, type = 'application/json'): string {
  const json = JSON.stringify(body);
  return `--frame\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(json)}\r\nFrame-Current: ${current}\r\nFrame-Total: ${total}\r\n\r\n${json}\r\n`;
}

const END = 'application/vnd.sam2-demo.end+json';
const ERROR = 'application/vnd.sam2-demo.error+json';

const frame = (i: number) => ({ frame_index: i, results: [{ object_id: 1, mask: { size: [2, 2], counts: '04' } }] });

/** Scenario per request body's session_id. */
function respond(sessionId: string, res: http.ServerResponse) {
  if (sessionId === 'gone') {
    res.writeHead(410, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'Session expired.', code: 'SESSION_EXPIRED' } }));
    return;
  }
  res.writeHead(200, { 'Content-Type': 'multipart/x-savi-stream; boundary=frame' });
  let text = '';
  const n = 5;
  for (let i = 0; i < n; i++) text += part(frame(i), i + 1, n);
  if (sessionId === 'error') text = part(frame(0), 1, n) + part({ error: { message: 'model crashed', code: 'INTERNAL' } }, 1, n, ERROR);
  else if (sessionId === 'legacy') text += '--frame--\r\n'; // servers before the end part
  else if (sessionId === 'trailing') text += part({ end: true, frames: n, cancelled: false }, n, n, END) + '--frame\r\ngarbage';
  else if (sessionId !== 'truncated') text += part({ end: true, frames: n, cancelled: false }, n, n, END);
  const bytes = Buffer.from(text);
  // Chunks of 1..37 bytes with small pauses, so parts and line ends split everywhere.
  let pos = 0;
  let size = 1;
  const tick = () => {
    if (pos >= bytes.length) {
      res.end();
      return;
    }
    res.write(bytes.subarray(pos, pos + size));
    pos += size;
    size = (size * 7) % 37 + 1;
    setTimeout(tick, 1);
  };
  tick();
}

let server: http.Server;
let base = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => respond(JSON.parse(body).session_id, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('streamPropagation', () => {
  it('delivers every frame in order with progress, and sees the close', async () => {
    const seen: [number, number | undefined, number | undefined][] = [];
    const result = await streamPropagation(base, {
      sessionId: 'ok',
      startFrameIndex: 0,
      onFrame: (m, cur, total) => seen.push([m.frameIndex, cur, total]),
    });
    expect(seen).toEqual([[0, 1, 5], [1, 2, 5], [2, 3, 5], [3, 4, 5], [4, 5, 5]]);
    expect(result).toEqual({ frames: 5, closed: true });
  });

  it('turns an in-band error part into an ApiError after the good frames', async () => {
    const seen: number[] = [];
    await expect(
      streamPropagation(base, { sessionId: 'error', startFrameIndex: 0, onFrame: (m) => seen.push(m.frameIndex) }),
    ).rejects.toThrow('model crashed');
    expect(seen).toEqual([0]);
  });

  it('takes the closing delimiter of older servers as complete, and stops at the end part', async () => {
    for (const sessionId of ['legacy', 'trailing']) {
      const result = await streamPropagation(base, { sessionId, startFrameIndex: 0, onFrame: () => undefined });
      expect(result).toEqual({ frames: 5, closed: true });
    }
  });

  it('reports a stream that ends without its end part', async () => {
    const result = await streamPropagation(base, { sessionId: 'truncated', startFrameIndex: 0, onFrame: () => undefined });
    expect(result).toEqual({ frames: 5, closed: false });
  });

  it('passes the server message of a refused request', async () => {
    const err = await streamPropagation(base, { sessionId: 'gone', startFrameIndex: 0, onFrame: () => undefined }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe('Session expired.');
  });

  it('stops when aborted', async () => {
    const abort = new AbortController();
    const seen: number[] = [];
    const run = streamPropagation(base, {
      sessionId: 'ok',
      startFrameIndex: 0,
      signal: abort.signal,
      onFrame: (m) => {
        seen.push(m.frameIndex);
        abort.abort();
      },
    });
    await expect(run).rejects.toThrow();
    expect(seen.length).toBeLessThan(5);
  });
});
