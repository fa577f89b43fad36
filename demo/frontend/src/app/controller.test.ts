// @vitest-environment jsdom
// The controller against a scripted server (fetch stubbed): what the page
// does when a prompt fails, when the server no longer has the session, with
// a view-only link, and which object names it tells the server.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeMask, encodeMask } from '../render/rle';
import { DemoController } from './controller';
import { SYNC_DELAY_MS } from './objectsSync';

const VIDEO = { id: 'v', path: 'gallery/a.mp4', posterPath: null, url: '/gallery/a.mp4', posterUrl: null, width: 8, height: 4, fps: 25, numFrames: 10, durationSec: 0.4 };
const MASK = { size: [4, 8] as [number, number], counts: '0;0' };

type Answer = { data?: unknown; errors?: { message: string; extensions: { code: string } }[] } | 'unreachable';

/** A server: `prompt` decides how addPoints answers; every request is logged. */
function fakeServer() {
  const server = {
    sessions: 0,
    log: [] as { op: string; variables: Record<string, unknown> }[],
    prompt: ((): Answer => ({ data: { addPoints: { frameIndex: 0, rleMaskList: [{ objectId: 1, rleMask: MASK }] } } })) as (sessionId: string) => Answer,
    work: null as unknown,
  };
  const answer = (op: string, v: Record<string, unknown>): Answer => {
    const input = (v.input ?? {}) as Record<string, unknown>;
    if (op.includes('__type')) return { data: { __type: null } };
    if (op.includes('serverInfo')) return { data: { serverInfo: { modelSize: 'micro', device: 'cpu', precision: 'bf16', randomWeights: true, maxObjects: 16, maxUploadMb: 20, maxDurationSec: 10 } } };
    if (op.includes('videos')) return { data: { videos: { edges: [{ node: VIDEO }] } } };
    if (op.includes('defaultVideo')) return { data: { defaultVideo: VIDEO } };
    if (op.includes('startSession')) return { data: { startSession: { sessionId: `s${++server.sessions}`, routeKey: `rk${server.sessions}` } } };
    if (op.includes('addPoints')) return server.prompt(String(input.sessionId));
    // A mask prompt comes back as it was sent (what the model does with one).
    if (op.includes('addMask')) {
      const { size, counts } = input.rleMask as { size: [number, number]; counts: string };
      return { data: { addMask: { frameIndex: input.frameIndex, rleMaskList: [{ objectId: input.objectId, rleMask: { size, counts } }] } } };
    }
    if (op.includes('clearPointsInFrame')) return { data: { clearPointsInFrame: { frameIndex: input.frameIndex, rleMaskList: [] } } };
    if (op.includes('segmentEverythingProgress')) return { data: { segmentEverythingProgress: { running: false, done: 0, total: 0 } } };
    if (op.includes('segmentEverything(')) {
      const proposal = (score: number) => ({ score, stabilityScore: 0.9, area: 4, bbox: [0, 0, 2, 2], point: [0.1, 0.1], rleMask: MASK });
      return { data: { segmentEverything: { frameIndex: input.frameIndex, candidates: 5, cancelled: false, seconds: 20, proposals: [proposal(0.9), proposal(0.8), proposal(0.7)] } } };
    }
    if (op.includes('deleteMasks')) return { data: { deleteMasks: { deleted: 3 } } };
    if (op.includes('updateObjects')) return { data: { updateObjects: { success: true } } };
    if (op.includes('shareLinks')) return { data: { shareLinks: [] } };
    if (op.includes('work(')) return { data: { work: server.work } };
    return { errors: [{ message: `not scripted: ${op}`, extensions: { code: 'BAD_REQUEST' } }] };
  };
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    if (url.includes('/export_masks')) return new Response(JSON.stringify({ annotations: [{ frame_index: 4, object_id: 1, segmentation: MASK }] }));
    const body = JSON.parse(init.body as string) as { query: string; variables: Record<string, unknown> };
    server.log.push({ op: body.query, variables: body.variables });
    const a = answer(body.query, body.variables);
    if (a === 'unreachable') throw new TypeError('Failed to fetch');
    return new Response(JSON.stringify(a), { headers: { 'Content-Type': 'application/json' } });
  });
  return server;
}

const ops = (server: ReturnType<typeof fakeServer>, name: string) => server.log.filter((r) => r.op.includes(name));

async function openPage(share: string | null = null) {
  const c = new DemoController('http://api.test');
  await c.init(null, share);
  return c;
}

beforeEach(() => {
  localStorage.clear();
  window.history.replaceState(null, '', '/');
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('a prompt the server did not take', () => {
  it('is not kept: no prompt, no stale frames, no undo step, and the user is told', async () => {
    const server = fakeServer();
    const c = await openPage();
    c.clickAt(0, 0.5, 0.5, false, 0.01, 0.01);
    await c.promptsSettled();
    c.masks.setFrame(5, [{ objectId: 1, rleMask: MASK }]); // a tracked frame the next click would make stale
    server.prompt = () => 'unreachable';
    c.clickAt(0, 0.2, 0.2, false, 0.01, 0.01);
    expect(c.masks.isStale(5, 1)).toBe(true); // marked at once, as the click is sent
    await c.promptsSettled();
    const s = c.getState();
    expect(s.prompts.byKey['1:0'].points).toHaveLength(1);
    expect(c.masks.isStale(5, 1)).toBe(false);
    expect(s.history).toHaveLength(1);
    expect(s.notice?.kind).toBe('error');
    expect(s.notice?.text).toMatch(/Cannot reach the server/);
  });
});

describe('a session the server no longer has', () => {
  it.each([
    ['unknown', 'Unknown session id; start a session first.', 'NOT_FOUND'],
    ['expired', 'Session s1 expired', 'SESSION_EXPIRED'],
  ])('(%s): a short notice, a new session, the prompts replayed, and the click counts', async (_kind, message, code) => {
    const server = fakeServer();
    const c = await openPage();
    server.prompt = (sid) =>
      sid === 's1' ? { errors: [{ message, extensions: { code } }] } : { data: { addPoints: { frameIndex: 0, rleMaskList: [{ objectId: 1, rleMask: MASK }] } } };
    c.clickAt(0, 0.5, 0.5, false, 0.01, 0.01);
    await c.promptsSettled();
    const s = c.getState();
    expect(s.sessionId).toBe('s2');
    expect(s.sessionStatus).toBe('ready');
    expect(s.prompts.byKey['1:0'].points).toHaveLength(1);
    expect(ops(server, 'addPoints').map((r) => (r.variables.input as { sessionId: string }).sessionId)).toEqual(['s1', 's2']);
    expect(s.notice?.kind).toBe('info');
    expect(s.notice?.text).toMatch(/new session was started and your 1 prompt set was replayed/);
  });
});

describe('object names', () => {
  it('are sent once they settle: one updateObjects for a rename typed and a recolour', async () => {
    const server = fakeServer();
    const c = await openPage();
    vi.useFakeTimers();
    c.renameObject(1, 'Do');
    c.renameObject(1, 'Dog');
    c.recolorObject(1, '#ff0000');
    c.selectObject(1);
    await vi.advanceTimersByTimeAsync(SYNC_DELAY_MS + 10);
    const sent = ops(server, 'updateObjects');
    expect(sent.length).toBeLessThanOrEqual(2); // the first object on start, then the edits
    expect((sent[sent.length - 1].variables.input as { objects: unknown[] }).objects).toEqual([{ objectId: 1, name: 'Dog', color: '#ff0000', label: '', firstFrame: null, lastFrame: null }]);
    c.selectObject(1);
    await vi.advanceTimersByTimeAsync(SYNC_DELAY_MS + 10);
    expect(ops(server, 'updateObjects')).toHaveLength(sent.length);
  });
});

describe('renaming and recolouring', () => {
  it('can be undone; a colour dragged through many values is one step', async () => {
    fakeServer();
    const c = await openPage();
    c.renameObject(1, 'Bunny');
    for (const colour of ['#ff0000', '#ff1100', '#ff2200']) c.recolorObject(1, colour);
    expect(c.getState().objects.objects[0]).toMatchObject({ name: 'Bunny', color: '#ff2200' });
    c.undo();
    expect(c.getState().objects.objects[0]).toMatchObject({ name: 'Bunny', color: '#3b82f6' });
    c.undo();
    expect(c.getState().objects.objects[0].name).toBe('Object 1');
    // The same name again is no change and no undo step.
    c.renameObject(1, 'Object 1');
    expect(c.getState().history).toHaveLength(0);
  });
});

describe('keeping proposals', () => {
  it('the objects take the colours the proposals had', async () => {
    fakeServer();
    const c = await openPage();
    const mask = encodeMask(new Uint8Array(32).fill(1), 4, 8);
    expect(c.keepMasks(0, [mask, mask], undefined, ['#112233', '#445566'])).toBe(2);
    expect(c.getState().objects.objects.map((o) => o.color)).toEqual(['#112233', '#445566']);
  });
});

describe('labels', () => {
  it('are undoable, and each object\'s label reaches the server with its name and colour', async () => {
    const server = fakeServer();
    const c = await openPage();
    vi.useFakeTimers();
    c.addLabel('animal');
    c.addLabel('toy');
    c.setObjectLabel(1, 'toy');
    expect(c.getState().objects.objects[0].label).toBe('toy');
    await vi.advanceTimersByTimeAsync(SYNC_DELAY_MS + 10);
    const sent = ops(server, 'updateObjects');
    expect((sent[sent.length - 1].variables.input as { objects: unknown[] }).objects).toEqual([{ objectId: 1, name: 'Object 1', color: '#3b82f6', label: 'toy', firstFrame: null, lastFrame: null }]);
    c.undo();
    expect(c.getState().objects.objects[0].label ?? '').toBe('');
    c.undo();
    expect(c.getState().objects.labels?.map((l) => l.name)).toEqual(['animal']);
    // Starting over keeps the video's label set.
    c.startOver();
    expect(c.getState().objects.labels?.map((l) => l.name)).toEqual(['animal']);
  });
});

describe('frame ranges', () => {
  it('ending an object drops its masks after the frame at once, tells the server before anything else, and undoes', async () => {
    const server = fakeServer();
    const c = await openPage();
    for (let f = 0; f < 10; f++) c.masks.setFrame(f, [{ objectId: 1, rleMask: MASK }]);
    c.set({ prompts: { byKey: { '1:0': { points: [{ x: 0.5, y: 0.5, label: 1 }], box: null } } } });
    c.endObjectAt(1, 6);
    expect(c.masks.frameIndices()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await c.promptsSettled(); // what Track waits for
    const sent = ops(server, 'updateObjects');
    expect((sent[sent.length - 1].variables.input as { objects: { lastFrame: number }[] }).objects[0].lastFrame).toBe(6);
    c.undo();
    expect(c.getState().objects.objects[0].lastFrame ?? null).toBeNull();
    expect(c.masks.frameIndices()).toHaveLength(10);
    expect(c.masks.isStale(8, 1)).toBe(true); // back, to be tracked again
  });
});

describe('deleting masks on a span of frames', () => {
  it('drops the object\'s masks and prompts there at once, tells the server, and undoes (masks back stale, prompt sent again)', async () => {
    const server = fakeServer();
    const c = await openPage();
    for (let f = 0; f < 10; f++) c.masks.setFrame(f, [{ objectId: 1, rleMask: MASK }, { objectId: 2, rleMask: MASK }]);
    const click = { points: [{ x: 0.5, y: 0.5, label: 1 as const }], box: null };
    c.set({ prompts: { byKey: { '1:0': click, '1:5': click } } });
    c.deleteMasks(1, 6, 4); // either order
    const framesOf = (id: number) => c.masks.frameIndices().filter((f) => c.masks.get(f, id));
    expect(framesOf(1)).toEqual([0, 1, 2, 3, 7, 8, 9]);
    expect(framesOf(2)).toHaveLength(10);
    expect(Object.keys(c.getState().prompts.byKey)).toEqual(['1:0']);
    await c.promptsSettled();
    expect(ops(server, 'deleteMasks').map((r) => r.variables.input)).toEqual([{ sessionId: 's1', objectId: 1, firstFrame: 4, lastFrame: 6 }]);
    expect(c.getState().notice?.text).toMatch(/Deleted 3 masks of Object 1 on frames 4–6/);

    c.undo();
    expect(framesOf(1)).toHaveLength(10);
    expect(c.masks.isStale(4, 1)).toBe(true);
    expect(Object.keys(c.getState().prompts.byKey).sort()).toEqual(['1:0', '1:5']);
    await c.promptsSettled();
    expect(ops(server, 'addPoints').at(-1)?.variables.input).toMatchObject({ frameIndex: 5, objectId: 1 });
  });

  it('nothing there: no step, no request, the user is told', async () => {
    const server = fakeServer();
    const c = await openPage();
    c.masks.setFrame(0, [{ objectId: 1, rleMask: MASK }]);
    const steps = c.getState().history.length;
    c.deleteMasks(1, 3, 5);
    await c.promptsSettled();
    expect(c.getState().history).toHaveLength(steps);
    expect(ops(server, 'deleteMasks')).toHaveLength(0);
    expect(c.getState().notice?.text).toMatch(/no masks on frames 3–5/);
  });
});

describe('segment everything proposals', () => {
  it('come back after a reload until kept or dropped', async () => {
    fakeServer();
    const c = await openPage();
    c.seek(4);
    await c.everything.run({ pointsPerSide: 8, minScore: 0.5 });
    expect(c.everything.getState().items).toHaveLength(3);
    c.everything.drop([1]);

    const reloaded = await openPage(); // a reload: a new page on the same storage
    const back = reloaded.everything.getState();
    expect(back.status).toBe('ready');
    expect(back.frameIndex).toBe(4);
    expect(back.items.map((i) => i.key)).toEqual([0, 2]);
    expect(back.items.map((i) => i.color)).toEqual(c.everything.getState().items.map((i) => i.color));
    // Kept (one) and dropped (the other): nothing comes back after the next reload.
    reloaded.everything.keep([0]);
    reloaded.everything.drop([2]);
    expect((await openPage()).everything.getState().items).toEqual([]);
  });
});

describe('brush and eraser', () => {
  // VIDEO is 8 x 4 pixels: pixel (x, y) of the decoded mask is at y * 8 + x.
  const maskOn = (c: DemoController, frame: number) => {
    const rle = c.masks.get(frame, 1);
    return rle ? Array.from(decodeMask(rle)) : null;
  };

  it('a stroke becomes the frame\'s mask prompt, marks later frames stale, and undoes to the mask before', async () => {
    const server = fakeServer();
    const c = await openPage();
    // Tracked masks on frames 2..5: the left half of the picture.
    const left = new Uint8Array(32).map((_, i) => (i % 8 < 4 ? 1 : 0));
    for (let f = 2; f <= 5; f++) c.masks.setFrame(f, [{ objectId: 1, rleMask: encodeMask(left, 4, 8) }]);
    c.set({ prompts: { byKey: { '1:0': { points: [{ x: 0.2, y: 0.5, label: 1 }], box: null } } } });
    c.setBrushRadius(2);
    // Brush along the right edge of frame 3: pixels there join the mask at once.
    c.paint(3, [{ x: 7 / 8, y: 0.1 }, { x: 7 / 8, y: 0.9 }], 'brush');
    const painted = maskOn(c, 3)!;
    expect(painted[0 * 8 + 7]).toBe(1);
    expect(painted[3 * 8 + 7]).toBe(1);
    expect(painted[0]).toBe(1); // what was there stays
    expect(c.masks.isStale(4, 1) && c.masks.isStale(5, 1)).toBe(true);
    expect(c.masks.isStale(2, 1)).toBe(false);
    await c.promptsSettled();
    const sent = ops(server, 'addMask');
    expect(sent).toHaveLength(1);
    expect(decodeMask({ ...(sent[0].variables.input as { rleMask: { size: [number, number]; counts: string } }).rleMask })).toEqual(Uint8Array.from(painted));
    expect(c.getState().prompts.byKey['1:3'].mask).toBeTruthy();
    // The eraser takes the top-left corner away.
    c.paint(3, [{ x: 0, y: 0 }], 'eraser');
    expect(maskOn(c, 3)![0]).toBe(0);
    expect(c.getState().history.map((h) => h.label)).toEqual(['a brush stroke', 'an eraser stroke']);
    await c.promptsSettled();
    // Undo both: the frame gets its tracked mask back (as its prompt, so the server keeps it).
    c.undo();
    await c.promptsSettled();
    expect(maskOn(c, 3)).toEqual(painted);
    c.undo();
    await c.promptsSettled();
    expect(maskOn(c, 3)).toEqual(Array.from(left));
  });

  it('a polygon edit: the outline with a vertex moved becomes the frame\'s mask prompt, and undoes', async () => {
    const server = fakeServer();
    const c = await openPage();
    const left = new Uint8Array(32).map((_, i) => (i % 8 < 4 ? 1 : 0));
    c.masks.setFrame(3, [{ objectId: 1, rleMask: encodeMask(left, 4, 8) }]);
    c.set({ prompts: { byKey: { '1:0': { points: [{ x: 0.2, y: 0.5, label: 1 }], box: null } } } });
    // The left half's outline, its top-right corner pulled to the right edge: a quadrilateral.
    c.reshapeMask(3, [[{ x: 0, y: 0 }, { x: 8, y: 0 }, { x: 4, y: 4 }, { x: 0, y: 4 }]]);
    const shaped = maskOn(c, 3)!;
    expect(shaped.slice(0, 8)).toEqual([1, 1, 1, 1, 1, 1, 1, 0]); // the top row reaches (nearly) the edge now
    expect(shaped.slice(24, 32)).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    await c.promptsSettled();
    expect(ops(server, 'addMask')).toHaveLength(1);
    expect(c.getState().history.at(-1)?.label).toBe('a polygon edit');
    c.undo();
    await c.promptsSettled();
    expect(maskOn(c, 3)).toEqual(Array.from(left));
  });

  it('a stroke that changes nothing is no step; the eraser needs a selected object', async () => {
    fakeServer();
    const c = await openPage();
    c.paint(0, [{ x: 0.5, y: 0.5 }], 'eraser');
    expect(c.getState().history).toHaveLength(0);
    c.set({ objects: { ...c.getState().objects, selectedId: null } });
    c.paint(0, [{ x: 0.5, y: 0.5 }], 'eraser');
    expect(c.getState().notice?.text).toMatch(/Select an object/);
  });
});

describe('a share link', () => {
  const shared = (mode: string) => ({
    sessionId: 'share.t', mode, routeKey: 'rk', video: VIDEO,
    objects: [{ objectId: 1, name: 'Dog', color: '#ff0000', label: '', firstFrame: null, lastFrame: null }],
    prompts: [{ frameIndex: 0, objectId: 1, points: [[0.5, 0.5]], labels: [1], box: null, maskCounts: null }],
  });

  it('opens its work by the token: objects, prompts, masks; the URL keeps it; nothing saved over this page\'s own', async () => {
    const server = fakeServer();
    server.work = shared('edit');
    const c = await openPage('share.t');
    const s = c.getState();
    expect([s.sessionId, s.access, s.video?.path]).toEqual(['share.t', 'edit', 'gallery/a.mp4']);
    expect(s.objects.objects.map((o) => o.name)).toEqual(['Dog']);
    expect(Object.keys(s.prompts.byKey)).toEqual(['1:0']);
    expect(c.masks.get(4, 1)).toEqual(MASK);
    expect(new URL(window.location.href).searchParams.get('share')).toBe('share.t');
    expect(ops(server, 'startSession')).toHaveLength(0);
    c.sessions.save();
    expect(localStorage.getItem('sam2-demo-work-v1') ?? '').not.toContain('share.t');
  });

  it('view-only: the server refuses a click with its message and the click is taken back; objects stay as they are', async () => {
    const server = fakeServer();
    server.work = shared('view');
    const c = await openPage('share.t');
    const refusal = 'This link is view-only: you can play, apply effects and export, but not edit.';
    server.prompt = () => ({ errors: [{ message: refusal, extensions: { code: 'READ_ONLY' } }] });
    c.clickAt(0, 0.2, 0.2, false, 0.01, 0.01);
    await c.promptsSettled();
    expect(c.getState().prompts.byKey['1:0'].points).toHaveLength(1);
    expect(c.getState().notice).toMatchObject({ kind: 'error', text: refusal });
    c.addObject();
    c.renameObject(1, 'Cat');
    expect(c.getState().objects.objects.map((o) => o.name)).toEqual(['Dog']);
    expect(ops(server, 'updateObjects')).toHaveLength(0);
  });

  it('revoked: the server\'s message, and no session is started in its place', async () => {
    const server = fakeServer();
    server.work = null;
    const c = new DemoController('http://api.test');
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit = {}) => {
      const body = JSON.parse(init.body as string) as { query: string };
      if (body.query.includes('work(')) {
        return new Response(JSON.stringify({ errors: [{ message: 'This share link was revoked by the owner of the work; ask for a new one.', extensions: { code: 'NOT_FOUND' } }] }));
      }
      return new Response(JSON.stringify({ data: { __type: null, videos: { edges: [] }, defaultVideo: null } }));
    });
    await c.init(null, 'share.gone');
    expect(c.getState().notice?.text).toMatch(/share link was revoked/);
    expect(c.getState().sessionId).toBeNull();
    void server;
  });
});
