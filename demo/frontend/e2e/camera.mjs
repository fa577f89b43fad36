// End-to-end tests of the live camera page (/camera, issue 23) in Debian's Chromium with a
// fake camera playing a gallery clip (a .y4m made here with PyAV), against the real backend
// (random weights, micro config): open the camera, click an object, masks follow for 20 s;
// a second object joins mid-stream; record 5 s, stop: the recording is in the browser's
// library with both objects' masks, and exports as a zip; the same on a phone viewport.
// Screenshots go to test-artifacts/e2e-camera/.
//
//   node e2e/camera.mjs      (npm run e2e runs it with the other suites)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FRONTEND_DIR, REPO_ROOT, SHARED_DATA, CHROMIUM, ConsoleErrors, assert, endSuite, makeDataDir, startBackend, startSuite,
} from './harness.mjs';

const ARTIFACTS = path.join(FRONTEND_DIR, 'test-artifacts', 'e2e-camera');
const FOLLOW_SEC = 20;

let page = null;
const runner = startSuite('camera end-to-end tests', ARTIFACTS, () => page);

/** A y4m clip (what Chromium's fake camera plays, looping) from the first frames of a gallery clip. */
function makeY4m(out) {
  // y4m is a text header and raw I420 planes per frame: written by hand, PyAV decodes.
  const script = `
import sys, av
src, out = sys.argv[1], sys.argv[2]
with av.open(src) as inp, open(out, "wb") as dst:
    dst.write(b"YUV4MPEG2 W320 H240 F15:1 Ip A1:1 C420jpeg\\n")
    for i, frame in enumerate(inp.decode(video=0)):
        if i >= 60:
            break
        dst.write(b"FRAME\\n" + frame.reformat(320, 240, "yuv420p").to_ndarray().tobytes())
`;
  const python = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  const src = path.join(SHARED_DATA, 'gallery', 'bunny_1280x720_25fps.mp4');
  const r = spawnSync(python, ['-c', script, src, out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`could not make the fake camera's clip: ${r.stderr}`);
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2-e2e-camera-'));
const y4m = path.join(scratch, 'camera.y4m');
makeY4m(y4m);
const dataDir = makeDataDir([]);
const backend = await startBackend(dataDir, path.join(ARTIFACTS, 'server.log'), 0);

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`,
  ],
});
const consoleErrors = new ConsoleErrors();

async function openCamera(options) {
  const context = await browser.newContext({ permissions: ['camera'], ...options });
  const p = await context.newPage();
  consoleErrors.watch(p, options.isMobile ? 'phone' : 'desktop');
  await p.goto(`${backend.url}/camera`);
  return p;
}

const canvas = (p = page) => p.getByLabel(/^Live picture/);
const stat = async (name, p = page) => Number(await p.locator(`[data-stat="${name}"]`).textContent());
const objectsShown = async (p = page) => Number(await canvas(p).getAttribute('data-objects'));
const button = (name, p = page) => p.getByRole('button', { name, exact: true });
const shot = (name, p = page) => p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });

async function waitFor(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function clickAt(x, y, p = page) {
  const box = await canvas(p).boundingBox();
  await p.mouse.click(box.x + x * box.width, box.y + y * box.height);
}

try {
  page = await openCamera({ viewport: { width: 1280, height: 900 } });

  await runner.test('the page lists the fake camera and starts it', async () => {
    await waitFor('a camera in the picker', async () => (await page.getByLabel('Camera').locator('option').count()) > 0);
    await button('Start camera').click();
    await waitFor('tracked frames', async () => (await stat('answered')) >= 5);
    const delay = await page.locator('[data-stat="delay"]').textContent();
    assert(/^\d+ ms$/.test(delay), `the capture-to-mask delay is shown: ${delay}`);
    await shot('started');
  });

  await runner.test(`a click tracks an object; masks follow for ${FOLLOW_SEC} s`, async () => {
    await clickAt(0.5, 0.5);
    await waitFor('the object on the live picture', async () => (await objectsShown()) === 1, 30_000);
    let answered = await stat('answered');
    for (let s = 0; s < FOLLOW_SEC; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await stat('answered');
      assert(now > answered, `frames keep being tracked (second ${s}: ${now} tracked)`);
      assert((await objectsShown()) === 1, `second ${s}: the object has a mask on the frame shown`);
      answered = now;
    }
    await shot('one-object');
  });

  await runner.test('a second object joins mid-stream', async () => {
    await button('Add object').click();
    await clickAt(0.2, 0.3);
    await waitFor('both objects on the live picture', async () => (await objectsShown()) === 2, 30_000);
    const before = await stat('answered');
    await waitFor('frames tracked with both', async () => (await stat('answered')) > before + 3);
    assert((await objectsShown()) === 2, 'both objects stay');
  });

  let recorded = null;
  await runner.test('record 5 s, stop: the recording is in the library with both objects', async () => {
    await button('Record').click();
    await waitFor('recording', async () => (await button('Stop recording').count()) === 1);
    await new Promise((r) => setTimeout(r, 5000));
    await button('Stop recording').click();
    const saved = page.locator('.camera-recorded');
    await saved.waitFor({ timeout: 120_000 });
    recorded = { session: await saved.getAttribute('data-session'), path: await saved.getAttribute('data-path') };
    await shot('recorded');
    const library = await page.evaluate(async () => {
      const id = localStorage.getItem('sam2-demo-client-id');
      const r = await fetch('/graphql', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Client-Id': id },
        body: JSON.stringify({ query: '{ videos { edges { node { path numFrames isUpload } } } }' }),
      });
      return (await r.json()).data.videos.edges.map((e) => e.node);
    });
    const video = library.find((v) => v.path === recorded.path);
    assert(video && video.isUpload && video.numFrames >= 10, `the library lists the recording: ${JSON.stringify(library)}`);
    const coco = await page.evaluate(async (session) => {
      const r = await fetch(`/export_masks?session_id=${session}&format=coco`);
      return r.json();
    }, recorded.session);
    const objects = new Set(coco.annotations.map((a) => a.object_id));
    assert(objects.has(1) && objects.has(2), `both objects have masks: ${[...objects]}`);
    const frames = new Set(coco.annotations.map((a) => a.frame_index));
    assert(frames.size === video.numFrames, `masks on every frame: ${frames.size} of ${video.numFrames}`);
  });

  await runner.test('the recording exports as a zip', async () => {
    const zip = await page.evaluate(async (session) => {
      const r = await fetch(`/export_masks?session_id=${session}&format=zip`);
      const bytes = new Uint8Array(await r.arrayBuffer());
      const text = new TextDecoder('latin1').decode(bytes);
      return { status: r.status, type: r.headers.get('Content-Type'), magic: text.slice(0, 2), o1: text.includes('object_1/'), o2: text.includes('object_2/') };
    }, recorded.session);
    assert(zip.status === 200 && zip.type === 'application/zip' && zip.magic === 'PK', `a zip: ${JSON.stringify(zip)}`);
    assert(zip.o1 && zip.o2, 'PNGs of both objects');
    await button('Stop camera').click();
  });

  await runner.test('phone viewport: the picture fits, a tap tracks an object', async () => {
    const phone = await openCamera({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    page = phone;
    await waitFor('a camera in the picker', async () => (await phone.getByLabel('Camera').locator('option').count()) > 0);
    await button('Start camera', phone).click();
    await waitFor('tracked frames', async () => (await stat('answered', phone)) >= 3);
    const box = await canvas(phone).boundingBox();
    assert(box.width <= 390 && box.width > 200, `the picture fits the screen: ${box.width} px`);
    await phone.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2);
    await waitFor('the object on the phone', async () => (await objectsShown(phone)) === 1, 30_000);
    await shot('phone', phone);
    await button('Stop camera', phone).click();
  });

  await consoleErrors.test(runner);
} finally {
  await browser.close();
  backend.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
}
endSuite(runner, ARTIFACTS);
