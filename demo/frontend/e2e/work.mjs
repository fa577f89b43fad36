// End-to-end tests of work that outlives the server process (issue 19), against
// the real backend (random weights, micro config, SQLite under its DATA_PATH) in
// Debian's Chromium: four objects tracked; the server SIGKILLed (a click meanwhile
// fails and is not counted) and started again on the same data and port; the open
// page's next click works with every mask
// still there, the model running for the clicked frame only (/healthy model_runs);
// a reload brings the work back; share links open it in another browser (editable,
// view-only, revoked). Screenshots go to test-artifacts/e2e-work/.
//
//   node e2e/work.mjs      (npm run e2e runs it after the other suites)
import fs from 'node:fs';
import path from 'node:path';
import { countChanged } from './pixels.mjs';
import { startSuitableBackend } from './seed.mjs';
import {
  FRONTEND_DIR, ConsoleErrors, assert, launchChromiumBrowser, makeDataDir, endSuite, startBackend, startSuite,
} from './harness.mjs';

const ARTIFACTS = path.join(FRONTEND_DIR, 'test-artifacts', 'e2e-work');
const CLIP = { from: 'uploads/with_audio_aac_640x360.mp4', as: 'bunny_short_640x360.mp4' }; // 60 frames
const FRAMES = 60;
const CLICK = { x: 0.5, y: 0.5 };
const BOX = { x0: 0.1, y0: 0.1, x1: 0.4, y1: 0.6 };
const MORE_CLICKS = [{ x: 0.8, y: 0.3 }, { x: 0.25, y: 0.85 }];

let page = null;
const runner = startSuite('work end-to-end tests', ARTIFACTS, () => page);
const dataDir = makeDataDir([CLIP]);
const log = path.join(ARTIFACTS, 'server.log');
let seed = null;
let backend = await startSuitableBackend(
  (s) => startBackend(dataDir, log, (seed = s)),
  `gallery/${CLIP.as}`, CLICK, BOX,
);
if (!backend) {
  await runner.test('a seed whose random weights give masks for the test prompts', () => {
    throw new Error('none of the seeds does; see the lines above');
  });
  fs.rmSync(dataDir, { recursive: true, force: true });
  console.log(runner.summary());
  process.exit(1);
}

const browser = await launchChromiumBrowser();
const newContext = () => browser.newContext({ viewport: { width: 1400, height: 900 } });
const context = await newContext();
page = await context.newPage();
const consoleErrors = new ConsoleErrors();
consoleErrors.watch(page, 'owner');

const shot = (name, p = page) => p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
const button = (name, p = page) => p.getByRole('button', { name, exact: true });
const enabledTrack = (p = page) => button('Track objects', p).and(p.locator(':enabled'));
const idle = (p = page) => p.waitForFunction(() => !document.querySelector('.pending'), null, { timeout: 60_000 });
const laneLabels = (p = page) => p.locator('.lane-track').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
const alerts = async (p = page) => (await p.getByRole('alert').allTextContents()).filter((t) => t.trim());
const healthy = async () => (await fetch(`${backend.url}/healthy`)).json();

async function at(x, y, p = page) {
  const box = await p.getByLabel('Video canvas', { exact: true }).boundingBox();
  return { x: box.x + x * box.width, y: box.y + y * box.height };
}

async function goToFrame(frame, p = page) {
  await p.getByRole('slider', { name: 'Frame' }).evaluate((el, f) => {
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, String(f));
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, frame);
  await p.waitForFunction((f) => document.querySelector('canvas.stage-gl')?.dataset.drawnFrame === String(f), frame);
}

/** Mask pixels drawn on the last frame. */
async function maskPixelsOnLastFrame(p = page) {
  await goToFrame(FRAMES - 1, p);
  return p.evaluate(countChanged, { region: [0, 0, 640, 360], reference: 'video' });
}

const tracked = `tracked frames 0–${FRAMES - 1}`;
let lanesBefore = null;
let pixelsBefore = 0;
const links = {};

try {
  await runner.test('four objects tracked through the clip', async () => {
    await page.goto(`${backend.url}/?video=${encodeURIComponent(`gallery/${CLIP.as}`)}`);
    await enabledTrack().waitFor({ timeout: 60_000 });
    await page.waitForFunction(() => document.querySelector('video')?.readyState >= 2);
    let p = await at(CLICK.x, CLICK.y);
    await page.mouse.click(p.x, p.y);
    await button('Add object').click();
    const a = await at(BOX.x0, BOX.y0);
    const b = await at(BOX.x1, BOX.y1);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps: 6 });
    await page.mouse.up();
    for (const c of MORE_CLICKS) {
      await button('Add object').click();
      p = await at(c.x, c.y);
      await page.mouse.click(p.x, p.y);
    }
    await page.getByLabel('Name of Object 1', { exact: true }).fill('Bunny');
    await page.keyboard.press('Enter');
    await idle();
    const t0 = Date.now();
    await button('Track objects').click();
    await page.waitForFunction(() => /done|failed|cancelled/.test(document.querySelector('.tracking-detail')?.textContent ?? ''), null, { timeout: 240_000, polling: 250 });
    console.log(`    tracking 4 objects x ${FRAMES} frames: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    lanesBefore = await laneLabels();
    assert(lanesBefore.length === 4 && lanesBefore.every((l) => l.includes(tracked) && l.includes('stale frames none')), `lanes ${lanesBefore}`);
    assert(lanesBefore[0].startsWith('Bunny:'), `renamed lane ${lanesBefore[0]}`);
    pixelsBefore = await maskPixelsOnLastFrame();
    assert(pixelsBefore > 2000, `only ${pixelsBefore} mask pixels on the last frame`);
    assert((await alerts()).length === 0, `errors: ${await alerts()}`);
  });

  await runner.test('SIGKILL (a click meanwhile is not counted) and restart: the open page\'s next click works, masks all there, the model ran on that frame only', async () => {
    const t0 = Date.now();
    await backend.kill();
    // A click while the server is down fails, says so, and is not counted as a prompt.
    await goToFrame(FRAMES - 1);
    const rowsBefore = await page.locator('.object-info').allTextContents();
    const down = await at(0.7, 0.7);
    await page.mouse.click(down.x, down.y);
    await page.getByRole('alert').filter({ hasText: 'Cannot reach the server' }).waitFor({ timeout: 15_000 });
    await idle();
    const rowsDown = await page.locator('.object-info').allTextContents();
    assert(JSON.stringify(rowsDown) === JSON.stringify(rowsBefore), `the failed click counted: ${rowsDown}, before ${rowsBefore}`);
    assert((await laneLabels()).every((l) => l.includes('stale frames none')), 'the failed click marked frames stale');
    await page.getByRole('button', { name: 'Dismiss' }).click();
    backend = await startBackend(dataDir, log, seed, {}, backend.port);
    console.log(`    server killed and up again in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert(JSON.stringify((await healthy()).model_runs) === JSON.stringify({ calls: 0, frames: [] }), 'the new process ran the model already');
    // On the last frame: a prompt there leaves every other frame's masks fresh.
    const p = await at(0.3, 0.7);
    await page.mouse.click(p.x, p.y);
    await idle();
    assert((await alerts()).length === 0, `errors after the restart: ${await alerts()}`);
    assert((await page.getByText('replayed', { exact: false }).count()) === 0, 'the page replayed its prompts into a new session');
    const runs = (await healthy()).model_runs;
    console.log(`    model_runs after the click: ${JSON.stringify(runs)}`);
    assert(JSON.stringify(runs.frames) === JSON.stringify([FRAMES - 1]), `the model ran on frames ${runs.frames}`);
    const lanes = await laneLabels();
    assert(lanes.every((l) => l.includes(tracked)), `lanes after the click ${lanes}`);
    await shot('01-after-restart-click');
  });

  await runner.test('a reload after the restart: work and masks back, Track enabled', async () => {
    await page.reload();
    await page.getByText('Resumed your session', { exact: false }).waitFor({ timeout: 30_000 });
    await enabledTrack().waitFor({ timeout: 30_000 });
    const lanes = await laneLabels();
    assert(lanes.length === 4 && lanes.every((l) => l.includes(tracked)), `lanes after the reload ${lanes}`);
    assert(lanes[0].startsWith('Bunny:'), `names after the reload ${lanes}`);
    const n = await maskPixelsOnLastFrame();
    assert(n > 0.8 * pixelsBefore, `mask pixels on the last frame: ${n}, before ${pixelsBefore}`);
    await shot('02-after-reload');
  });

  await runner.test('the owner makes an editable and a view-only link', async () => {
    await button('Make an editable link').click();
    await button('Make a view-only link').click();
    const edit = page.getByLabel('Address of Editable link 1', { exact: true });
    const view = page.getByLabel('Address of View-only link 2', { exact: true });
    links.edit = await edit.inputValue();
    links.view = await view.inputValue();
    assert(/[?&]share=share\./.test(links.edit) && /[?&]share=share\./.test(links.view), `links ${links.edit} ${links.view}`);
    await shot('03-links');
  });

  const other = await newContext(); // another browser: no local storage of the owner's
  let theirs = null;
  await runner.test('an editable link in another browser: the same objects, names and masks', async () => {
    theirs = await other.newPage();
    consoleErrors.watch(theirs, 'editor');
    await theirs.goto(links.edit);
    await theirs.getByText('Opened shared work', { exact: false }).waitFor({ timeout: 30_000 });
    await enabledTrack(theirs).waitFor({ timeout: 30_000 });
    const lanes = await laneLabels(theirs);
    const owner = await laneLabels();
    assert(JSON.stringify(lanes) === JSON.stringify(owner), `the link shows lanes ${lanes}, the owner ${owner}`);
    const n = await maskPixelsOnLastFrame(theirs);
    assert(n > 0.8 * pixelsBefore, `mask pixels on the last frame through the link: ${n}`);
    await shot('04-editable-link', theirs);
  });

  await runner.test('a view-only link: masks shown, editing disabled, a click refused with the server\'s message', async () => {
    const viewer = await other.newPage();
    consoleErrors.watch(viewer, 'viewer');
    try {
      await viewer.goto(links.view);
      await viewer.getByText('Opened shared work', { exact: false }).waitFor({ timeout: 30_000 });
      assert(await button('Track objects', viewer).isDisabled(), 'Track is enabled on a view-only link');
      assert(await button('Add object', viewer).isDisabled(), 'Add object is enabled on a view-only link');
      assert((await laneLabels(viewer)).every((l) => l.includes(tracked)), 'masks missing on the view-only link');
      // On a frame without prompts, so a click kept would show as one more prompted frame.
      await goToFrame(30, viewer);
      const rowsBefore = await viewer.locator('.object-info').allTextContents();
      const p = await at(0.6, 0.3, viewer);
      await viewer.mouse.click(p.x, p.y);
      await viewer.getByRole('alert').filter({ hasText: 'This link is view-only' }).waitFor({ timeout: 15_000 });
      await idle(viewer);
      const rows = await viewer.locator('.object-info').allTextContents();
      assert(JSON.stringify(rows) === JSON.stringify(rowsBefore), `the refused click was kept: ${rows}, before ${rowsBefore}`);
      assert(await button('Export masks', viewer).isEnabled(), 'export is disabled on a view-only link');
      await shot('05-view-only-refused', viewer);
    } finally {
      await viewer.close();
    }
  });

  await runner.test('a revoked link stops working, with a clear message', async () => {
    await button('Revoke View-only link 2', page).click();
    await page.getByText('Link revoked', { exact: false }).waitFor();
    const viewer = await other.newPage();
    consoleErrors.watch(viewer, 'revoked');
    try {
      await viewer.goto(links.view);
      await viewer.getByRole('alert').filter({ hasText: 'revoked' }).waitFor({ timeout: 30_000 });
      await shot('06-revoked', viewer);
    } finally {
      await viewer.close();
    }
  });
  await other.close();

  // What the tests asked for logs: the click while the server was down, 403 (view-only), 404 (revoked).
  await consoleErrors.test(runner, /Failed to load resource.*(403|404|ERR_CONNECTION_(RESET|REFUSED)|ERR_SOCKET_NOT_CONNECTED)/);
} finally {
  await browser.close();
  backend.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

endSuite(runner, ARTIFACTS);
