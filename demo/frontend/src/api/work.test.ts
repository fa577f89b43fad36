// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GraphQLClient } from './graphql';
import { fetchSessionMasks, startSession } from './operations';
import { streamPropagation } from './propagate';
import { ROUTE_KEY_HEADER } from './sessionHeaders';
import { fetchWork, objectsFromServer, promptsFromServer } from './work';

afterEach(() => vi.unstubAllGlobals());

/** A fetch that records each request's URL and headers and answers `answer(url, body)`. */
function recordFetch(answer: (url: string, body: Record<string, unknown> | null) => Response) {
  const seen: { url: string; headers: Headers }[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    seen.push({ url, headers: new Headers(init.headers) });
    return answer(url, init.body ? (JSON.parse(init.body as string) as Record<string, unknown>) : null);
  });
  return seen;
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('X-Route-Key on every request of a session', () => {
  it('comes from startSession and goes with GraphQL, the tracking stream and mask fetches', async () => {
    const seen = recordFetch((url, body) => {
      if (url.endsWith('/export_masks?format=coco&session_id=s-1')) return json({ annotations: [] });
      if (url.endsWith('/propagate_in_video')) return new Response('--frame--\r\n', { headers: { 'Content-Type': 'multipart/x-savi-stream; boundary=frame' } });
      const query = String(body?.query);
      if (query.includes('startSession')) return json({ data: { startSession: { sessionId: 's-1', routeKey: 'rk-1' } } });
      return json({ data: { addPoints: { frameIndex: 0, rleMaskList: [] } } });
    });
    const client = new GraphQLClient('http://api.test');
    await startSession(client, 'gallery/a.mp4');
    await client.request('mutation { addPoints }', { input: { sessionId: 's-1' } });
    await client.request('query', { sessionId: 's-1' });
    await fetchSessionMasks(client, 's-1');
    await streamPropagation('http://api.test', { sessionId: 's-1', startFrameIndex: 0, onFrame: () => undefined });
    expect(seen[0].headers.get(ROUTE_KEY_HEADER)).toBeNull(); // a new session has no key yet
    expect(seen.slice(1).map((r) => r.headers.get(ROUTE_KEY_HEADER))).toEqual(['rk-1', 'rk-1', 'rk-1', 'rk-1']);
    expect(seen.every((r) => r.headers.get('X-Client-Id'))).toBe(true);
  });

  it('comes from work() for a share link, named by its token', async () => {
    const seen = recordFetch((_url, body) => {
      const query = String(body?.query);
      if (query.includes('__type')) return json({ data: { __type: null } });
      if (query.includes('work(')) {
        return json({
          data: {
            work: {
              sessionId: 'share.t1', mode: 'view', routeKey: 'rk-2', objects: [], prompts: [],
              video: { id: 'v', path: 'gallery/a.mp4', posterPath: null, url: '/gallery/a.mp4', posterUrl: null, width: 8, height: 4, fps: 25, numFrames: 3, durationSec: 0.12 },
            },
          },
        });
      }
      return json({ data: { removeObject: [] } });
    });
    const client = new GraphQLClient('http://api.test');
    const opened = await fetchWork(client, 'share.t1');
    expect([opened.sessionId, opened.mode, opened.video.path]).toEqual(['share.t1', 'view', 'gallery/a.mp4']);
    await client.request('mutation', { input: { sessionId: 'share.t1' } });
    expect(seen[seen.length - 1].headers.get(ROUTE_KEY_HEADER)).toBe('rk-2');
  });
});

describe('a work as the server keeps it', () => {
  it('becomes the page\'s prompts: points with labels, a box, a mask at the video size', () => {
    const prompts = promptsFromServer(
      [
        { frameIndex: 3, objectId: 1, points: [[0.5, 0.25], [0.1, 0.2]], labels: [1, 0], box: null, maskCounts: null },
        { frameIndex: 0, objectId: 2, points: [], labels: [], box: [0.1, 0.2, 0.3, 0.4], maskCounts: null },
        { frameIndex: 5, objectId: 3, points: [], labels: [], box: null, maskCounts: '0;0' },
        { frameIndex: 6, objectId: 3, points: [], labels: [], box: null, maskCounts: null },
      ],
      { width: 640, height: 360 },
    );
    expect(prompts).toEqual({
      '1:3': { points: [{ x: 0.5, y: 0.25, label: 1 }, { x: 0.1, y: 0.2, label: 0 }], box: null },
      '2:0': { points: [], box: { x0: 0.1, y0: 0.2, x1: 0.3, y1: 0.4 } },
      '3:5': { points: [], box: null, mask: { size: [360, 640], counts: '0;0' } },
    });
  });

  it('shows named objects with their colours, and prompted ones the server has no name for', () => {
    const objects = objectsFromServer([{ objectId: 2, name: 'Dog', color: '#ff0000' }, { objectId: 4, name: '', color: '' }], [1, 2]);
    expect(objects.objects.map((o) => [o.id, o.name, o.color.startsWith('#')])).toEqual([
      [1, 'Object 1', true],
      [2, 'Dog', true],
      [4, 'Object 4', true],
    ]);
    expect(objects.objects[1].color).toBe('#ff0000');
    expect([objects.selectedId, objects.nextId]).toEqual([1, 5]);
  });
});
