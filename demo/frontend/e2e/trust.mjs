// End-to-end tests of the demo as a tool people trust with their work (issue 12),
// against the real backend (random weights, micro config) in Debian's Chromium:
// work kept across video switches, uploads and reloads (and replayed when the
// server dropped the session), a leave warning while tracking, drop anywhere,
// honest progress, stable notices, one undo history, exports without empty
// objects, refinement that re-tracks only what it can change, timeline lanes,
// keyboard and screen readers (axe-core), phone and tablet, WebGL effects with
// 16 objects. Screenshots go to test-artifacts/e2e-trust/.
//
//   node e2e/trust.mjs      (npm run e2e runs it after run.mjs)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { countChanged } from './pixels.mjs';
import { startSuitableBackend } from './seed.mjs';
import {
  FRONTEND_DIR, SHARED_DATA, ConsoleErrors, assert, launchChromiumBrowser, makeDataDir, endSuite, pageSteps, startBackend, startSuite,
} from './harness.mjs';

const ARTIFACTS = path.join(FRONTEND_DIR, 'test-artifacts', 'e2e-trust');
const CLIP = { from: 'uploads/with_audio_aac_640x360.mp4', as: 'bunny_short_640x360.mp4' }; // 60 frames
const OTHER = { from: 'uploads/one_frame_640x360.mp4', as: 'a_single_frame_640x360.mp4' };
const HD = { from: 'gallery/bunny_1280x720_25fps.mp4', as: 'bunny_hd_1280x720_25fps.mp4' };
const FRAMES = 60;
const CLICK = { x: 0.5, y: 0.5 };
const BOX = { x0: 0.1, y0: 0.1, x1: 0.4, y1: 0.6 };
const THIRD = { x: 0.8, y: 0.3 };
const MAX_SESSIONS = 4;

let page = null;
const runner = startSuite('trust end-to-end tests', ARTIFACTS, () => page);

const dataDir = makeDataDir([CLIP, OTHER, HD]);
const backend = await startSuitableBackend(
  (seed) => startBackend(dataDir, path.join(ARTIFACTS, 'server.log'), seed, { MAX_SESSIONS: String(MAX_SESSIONS) }),
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

async function gql(query, variables = {}, clientId = 'e2e-other-visitor') {
  const r = await fetch(`${backend.url}/graphql`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Client-Id': clientId }, body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  if (body.errors) throw new Error(body.errors[0].message);
  return body.data;
}

const browser = await launchChromiumBrowser();
const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
page = await context.newPage();
const consoleErrors = new ConsoleErrors();
const watchConsole = (p, who) => consoleErrors.watch(p, who);
watchConsole(page, 'main');

const shot = (name, p = page) => p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
const canvas = () => page.getByLabel('Video canvas', { exact: true });
const steps = pageSteps(page);
const { button, enabledTrack, at, idle, clickAt, ready, waitTrackingDone } = steps;
const rowText = (id) => page.getByLabel(`Object ${id}`, { exact: true }).locator('.object-info').textContent();
const laneLabels = () => page.locator('.lane-track').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
const noAlerts = async () => {
  const alerts = (await page.getByRole('alert').allTextContents()).filter((t) => t.trim());
  assert(alerts.length === 0, `error shown: ${alerts}`);
};

async function openVideo(name, p = page) {
  await p.getByRole('button', { name: new RegExp(`^${name}`) }).click();
  await p.waitForFunction((n) => document.querySelector('.video-card.current')?.textContent?.includes(n), name);
  await ready(p);
}

/** To a frame, once the video shows it. */
const goToFrame = (frame) => steps.goToFrame(frame, { drawn: true });

/** Blur whatever has the focus, so global shortcuts apply. */
const blur = () => page.evaluate(() => document.activeElement?.blur());

try {
  await runner.test('three objects (two clicks, a box) on a gallery clip', async () => {
    await page.goto(backend.url);
    await canvas().waitFor();
    await openVideo('Bunny short');
    let p = await at(CLICK.x, CLICK.y);
    await page.mouse.click(p.x, p.y);
    await button('Add object').click();
    const a = await at(BOX.x0, BOX.y0);
    const b = await at(BOX.x1, BOX.y1);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps: 6 });
    await page.mouse.up();
    await button('Add object').click();
    p = await at(THIRD.x, THIRD.y);
    await page.mouse.click(p.x, p.y);
    await idle();
    for (const id of [1, 2, 3]) assert(/prompts on 1 frame/.test(await rowText(id)), `Object ${id}: ${await rowText(id)}`);
    await noAlerts();
    await shot('01-three-objects');
  });

  await runner.test('tracking: frames/s and time left follow the measured rate; leaving asks first', async () => {
    // Record every progress update with its time, in the page.
    await page.evaluate(() => {
      window.__progress = [];
      const bar = document.querySelector('[role="progressbar"][aria-label="Tracking progress"]');
      new MutationObserver(() => {
        const m = /\((\d+) of (\d+) frames\)/.exec(bar.getAttribute('aria-valuetext') ?? '');
        const text = document.querySelector('.tracking-detail')?.textContent ?? '';
        if (m) window.__progress.push({ t: performance.now(), done: Number(m[1]), total: Number(m[2]), text });
      }).observe(bar, { attributes: true });
    });
    const [request] = await Promise.all([page.waitForRequest('**/propagate_in_video'), button('Track objects').click()]);
    const body = JSON.parse(request.postData());
    assert(body.start_frame_index === 0 && body.direction === 'forward', `first track asked ${request.postData()}`);
    // Leaving while tracking: the browser asks (beforeunload), and staying keeps tracking.
    await page.waitForFunction(() => (window.__progress?.length ?? 0) >= 5, null, { timeout: 60_000 });
    const dialog = page.waitForEvent('dialog', { timeout: 10_000 });
    await page.evaluate(() => setTimeout(() => window.location.reload(), 0));
    const d = await dialog;
    assert(d.type() === 'beforeunload', `dialog ${d.type()}`);
    await d.dismiss();
    const done = await waitTrackingDone();
    console.log(`    ${done}`);
    const samples = await page.evaluate(() => window.__progress);
    // Compare each displayed rate with the rate of the updates this page saw (same window: 8 intervals).
    let within = 0;
    let compared = 0;
    const lines = [];
    for (let i = 8; i < samples.length; i++) {
      const shown = /([\d.]+) frames\/(s|min)/.exec(samples[i].text);
      if (!shown) continue;
      const shownFps = shown[2] === 's' ? Number(shown[1]) : Number(shown[1]) / 60;
      const measured = 8 / ((samples[i].t - samples[i - 8].t) / 1000);
      compared++;
      if (Math.abs(shownFps - measured) <= 0.2 * measured) within++;
      if (i % 15 === 0) lines.push(`${samples[i].done}/${samples[i].total}: shows ${shownFps.toFixed(2)}, measured ${measured.toFixed(2)} frames/s`);
    }
    // And the time left predicted mid-way against the time it really took.
    const mid = samples.find((s) => s.done >= samples[samples.length - 1].total / 3);
    const left = /(?:(\d+)m )?(\d+)s left/.exec(mid?.text ?? '');
    const predicted = left ? Number(left[1] ?? 0) * 60 + Number(left[2]) : NaN;
    const actual = (samples[samples.length - 1].t - mid.t) / 1000;
    console.log(`    ${lines.join('; ')}`);
    console.log(`    rate within 20% of the measured one in ${within} of ${compared} updates; at ${mid.done}/${mid.total} it predicted ${predicted} s left, it took ${actual.toFixed(1)} s`);
    assert(compared >= 10 && within >= 0.8 * compared, 'displayed rate strays from the measured one');
    const second = samples.find((s) => s.done === 2);
    assert(second?.text.includes('frames/'), `no rate after the second frame: "${second?.text}"`);
    const labels = await laneLabels();
    for (const l of labels) assert(l.includes(`tracked frames 0–${FRAMES - 1}`) && l.includes('stale frames none'), `lane: ${l}`);
    await shot('02-tracked-timeline');
  });

  let before = null;
  await runner.test('switching videos keeps the work; coming back restores it', async () => {
    before = { rows: [await rowText(1), await rowText(2), await rowText(3)], lanes: await laneLabels() };
    await openVideo('A single frame');
    assert((await page.locator('.object').count()) === 1, 'the other video should start with one object');
    assert(/no prompts/.test(await rowText(1)), 'the other video has prompts of the first one');
    await openVideo('Bunny short');
    await page.getByText('Back on Bunny short', { exact: false }).waitFor();
    const rows = [await rowText(1), await rowText(2), await rowText(3)];
    assert(JSON.stringify(rows) === JSON.stringify(before.rows), `rows ${rows} != ${before.rows}`);
    assert(JSON.stringify(await laneLabels()) === JSON.stringify(before.lanes), 'lanes changed');
    await goToFrame(FRAMES - 1);
    const n = await page.evaluate(countChanged, { region: [0, 0, 640, 360], reference: 'video' });
    assert(n > 2000, `only ${n} mask pixels on the last frame after coming back`);
  });

  await runner.test('a reload reopens the video and resumes the live session with its masks', async () => {
    await page.reload();
    await page.getByText('Resumed your session on Bunny short', { exact: false }).waitFor({ timeout: 30_000 });
    assert(page.url().includes('video=gallery%2Fbunny_short') || page.url().includes('video=gallery/bunny_short'), `url ${page.url()}`);
    const rows = [await rowText(1), await rowText(2), await rowText(3)];
    assert(JSON.stringify(rows) === JSON.stringify(before.rows), `rows after reload ${rows}`);
    assert(JSON.stringify(await laneLabels()) === JSON.stringify(before.lanes), `lanes after reload ${await laneLabels()}`);
    await shot('03-resumed-after-reload');
  });

  await runner.test('a second tab of the same browser copies the work into a session of its own', async () => {
    const tab = await context.newPage();
    watchConsole(tab, 'second tab');
    try {
      await tab.goto(page.url());
      await tab.getByText('Another tab of this browser has this video open', { exact: false }).waitFor({ timeout: 30_000 });
      await enabledTrack(tab).waitFor({ timeout: 60_000 });
      assert((await tab.locator('.object').count()) === 3, 'the second tab lacks the objects');
    } finally {
      await tab.close();
    }
    // The first tab's session is untouched: a prompt there works without any replay
    // (on the last frame, where a prompt makes no other frame stale; then undone).
    await goToFrame(FRAMES - 1);
    await clickAt(0.3, 0.8);
    await noAlerts();
    assert((await page.getByText('replayed', { exact: false }).count()) === 0, 'the first tab had to replay');
    await blur();
    await page.keyboard.press('Control+z');
    await idle();
  });

  await runner.test('refinement on frame 30: stale marks, then only frames 30..59 are re-tracked', async () => {
    await goToFrame(30);
    await page.getByRole('button', { name: 'Select Object 1' }).click();
    const p = await at(0.62, 0.62);
    await page.mouse.click(p.x, p.y, { button: 'right' });
    await idle();
    const lanes = await laneLabels();
    assert(lanes[0].includes('stale frames 31–59'), `Object 1 lane: ${lanes[0]}`);
    assert(lanes[1].includes('stale frames none') && lanes[2].includes('stale frames none'), `other lanes: ${lanes.slice(1)}`);
    await goToFrame(45);
    await page.getByText('Masks here predate your last change', { exact: false }).waitFor();
    await shot('04-stale-after-refinement');
    const [request] = await Promise.all([page.waitForRequest('**/propagate_in_video'), button('Track objects').click()]);
    const body = JSON.parse(request.postData());
    assert(body.start_frame_index === 30 && body.direction === 'forward', `refinement asked ${request.postData()}`);
    const d = await waitTrackingDone();
    console.log(`    ${d}`);
    assert(d.startsWith('30 / 30 frames'), `re-tracked ${d}`);
    for (const l of await laneLabels()) assert(l.includes('stale frames none'), `still stale: ${l}`);
    assert((await page.getByText('Masks here predate', { exact: false }).count()) === 0, 'stale badge stays');
    // The timeline: a click on a lane jumps there (and selects that object); a prompt tick jumps to its frame.
    const lane = await page.locator('.lane-track').nth(1).boundingBox();
    await page.mouse.click(lane.x + lane.width * 0.26, lane.y + lane.height / 2);
    await page.waitForFunction(() => Math.abs(Number(document.querySelector('output[aria-label="Current frame"]')?.textContent) - 15) <= 1);
    assert((await page.getByRole('button', { name: 'Select Object 2' }).getAttribute('aria-pressed')) === 'true', 'the lane did not select Object 2');
    await button('Go to frame 30 (prompt of Object 1)').click();
    await page.waitForFunction(() => document.querySelector('output[aria-label="Current frame"]')?.textContent === '30');
  });

  await runner.test('Remove, Clear and Start over are undone by one history (Ctrl+Z)', async () => {
    await button('Remove Object 2').click();
    await page.getByLabel('Object 2', { exact: true }).waitFor({ state: 'detached' });
    await blur();
    await page.keyboard.press('Control+z');
    await page.getByLabel('Object 2', { exact: true }).waitFor();
    await idle();
    assert(/prompts on 1 frame/.test(await rowText(2)), `Object 2 after undo: ${await rowText(2)}`);
    assert(/prompts on 2 frames/.test(await rowText(1)), `undo touched Object 1: ${await rowText(1)}`);
    await button('Clear Object 3').click();
    await page.getByLabel('Object 3', { exact: true }).filter({ hasText: 'no prompts' }).waitFor();
    await blur();
    await page.keyboard.press('Control+z');
    await page.getByLabel('Object 3', { exact: true }).filter({ hasText: 'prompts on 1 frame' }).waitFor();
    await button('Start over').click();
    await page.waitForFunction(() => document.querySelectorAll('.object').length === 1);
    await shot('05-started-over');
    await button('Undo').click();
    await page.waitForFunction(() => document.querySelectorAll('.object').length === 3);
    await idle();
    const lanes = await laneLabels();
    assert(lanes.every((l) => !l.includes('tracked frames none')), `masks not back: ${lanes}`);
    await noAlerts();
    await shot('06-undone');
  });

  await runner.test('keyboard only: open a video, place points, track, export; Space presses a focused button; help traps focus', async () => {
    await blur();
    const tabTo = async (test, max = 80) => {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(test)) return;
      }
      throw new Error(`Tab never reached ${test}`);
    };
    await tabTo(() => (document.activeElement?.textContent ?? '').startsWith('A single frame'));
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('.video-card.current')?.textContent?.includes('A single frame'));
    await enabledTrack().waitFor({ timeout: 60_000 });
    await tabTo(() => document.activeElement?.getAttribute('aria-label') === 'Video canvas');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('Enter');
    await page.getByLabel('Object 1', { exact: true }).filter({ hasText: 'prompts on 1 frame' }).waitFor();
    await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('Shift+Enter');
    await idle();
    assert((await page.locator('output[aria-label="Current frame"]').textContent()) === '0', 'arrows on the canvas stepped frames');
    await shot('07-keyboard-cursor');
    // T: a one-frame video is tracked by its prompts already, and the page says so.
    await page.keyboard.press('t');
    await page.getByText('Every frame is already tracked', { exact: false }).waitFor();
    // Space on a focused button presses it (does not start playback).
    await tabTo(() => document.activeElement?.textContent === 'Add object');
    await page.keyboard.press(' ');
    await page.waitForFunction(() => document.querySelectorAll('.object').length === 2);
    assert(await button('Play').isVisible(), 'Space started playback');
    await page.keyboard.press('Control+z');
    await page.waitForFunction(() => document.querySelectorAll('.object').length === 1);
    await tabTo(() => document.activeElement?.textContent === 'Export COCO JSON');
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    const coco = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
    assert(coco.annotations.length === 1, `${coco.annotations.length} annotations`);
    // The help dialog keeps the focus inside and gives it back on close.
    await page.keyboard.press('?');
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      assert(await page.evaluate(() => !!document.activeElement?.closest('dialog')), 'focus left the dialog');
    }
    await shot('08-help-dialog');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('dialog')?.open);
    assert(await page.evaluate(() => document.activeElement?.textContent === 'Export COCO JSON'), 'focus did not come back');
  });

  await runner.test('notices never move the video and end with their condition', async () => {
    const top = () => canvas().evaluate((c) => c.getBoundingClientRect().top);
    await button('Start over').click();
    const t0 = await top();
    await button('Dismiss').click();
    const t1 = await top();
    await blur();
    await page.keyboard.press('t');
    const notice = page.getByText('Click an object first', { exact: false });
    await notice.waitFor();
    const t2 = await top();
    const p = await at(0.5, 0.5);
    await page.mouse.click(p.x, p.y);
    await notice.waitFor({ state: 'detached' });
    const t3 = await top();
    assert(t0 === t1 && t1 === t2 && t2 === t3, `the video moved: ${[t0, t1, t2, t3]}`);
    await idle();
  });

  await runner.test('exports leave out objects without masks; with 16 objects the export panel stays in view', async () => {
    await blur();
    for (let i = 0; i < 15; i++) await page.keyboard.press('n');
    assert((await page.locator('.object').count()) === 16, 'not 16 objects');
    const exportButton = button('Export COCO JSON');
    const inView = await exportButton.evaluate((b) => {
      const r = b.getBoundingClientRect();
      return r.bottom <= window.innerHeight && r.top >= 0 && window.scrollY === 0;
    });
    await shot('09-sixteen-objects');
    assert(inView, 'the export panel is below the fold');
    const [download] = await Promise.all([page.waitForEvent('download'), exportButton.click()]);
    const coco = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
    assert(coco.categories.length === 1, `${coco.categories.length} categories for 1 object with masks`);
    await page.getByText('15 without masks left out', { exact: false }).waitFor();
  });

  await runner.test('a video dropped on the video area uploads (overlay shown) and other videos keep their work', async () => {
    const url = page.url();
    const b64 = fs.readFileSync(path.join(SHARED_DATA, 'uploads', 'quicktime_h264_640x360.mov')).toString('base64');
    await page.evaluate((data) => {
      const bytes = Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
      window.__dt = new DataTransfer();
      window.__dt.items.add(new File([bytes], 'my holiday.mov', { type: 'video/quicktime' }));
      const zone = document.querySelector('canvas[aria-label="Video canvas"]');
      zone.dispatchEvent(new DragEvent('dragenter', { dataTransfer: window.__dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: window.__dt, bubbles: true, cancelable: true }));
    }, b64);
    await page.locator('.drop-overlay').waitFor();
    await shot('10-drop-overlay');
    await page.evaluate(() => {
      const zone = document.querySelector('canvas[aria-label="Video canvas"]');
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: window.__dt, bubbles: true, cancelable: true }));
    });
    await page.locator('.drop-overlay').waitFor({ state: 'detached' });
    await page.waitForFunction(() => /2\.0 s · 50 frames/.test(document.querySelector('.video-card.current')?.textContent ?? ''), null, { timeout: 120_000 });
    await enabledTrack().waitFor({ timeout: 60_000 });
    assert(new URL(page.url()).origin === new URL(url).origin, 'the page navigated away');
    await openVideo('Bunny short');
    assert((await page.locator('.object').count()) === 3, 'the 3 objects are gone after an upload');
  });

  await runner.test('axe-core audit: no serious or critical violations', async () => {
    const require = createRequire(import.meta.url);
    // Evaluated through the DevTools protocol: the page's Content-Security-Policy (script-src
    // 'self') refuses an injected inline <script>, and so it should.
    await page.evaluate(fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
    const result = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, target: v.nodes[0]?.target }));
    });
    for (const v of result) console.log(`    axe ${v.impact}: ${v.id} (${v.nodes} nodes, e.g. ${v.target}): ${v.help}`);
    const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert(bad.length === 0, `${bad.length} serious/critical violations: ${bad.map((v) => v.id)}`);
  });

  await runner.test('effects: 14 distinct WebGL effects; playback of 16 objects at 1280x720 measured', async () => {
    if (!page.url().startsWith(backend.url)) await page.goto(backend.url); // run alone (E2E_ONLY)
    await openVideo('Bunny hd');
    for (let i = 0; i < 16; i++) {
      if (i > 0) {
        await blur();
        await page.keyboard.press('n');
      }
      const p = await at(0.12 + 0.25 * (i % 4), 0.14 + 0.24 * Math.floor(i / 4));
      await page.mouse.click(p.x, p.y);
    }
    await idle();
    // Track 60 frames with all 16, then stop: the playback windows below stay within them.
    await button('Track objects').click();
    await page.waitForFunction(() => /^(\d+) \//.exec(document.querySelector('.tracking-detail')?.textContent ?? '')?.[1] >= 60, null, { timeout: 180_000, polling: 100 });
    await button('Cancel tracking').click();
    /** Frames drawn per second in 2 s of playback (50 frames of the 25 fps clip), after the first frames. */
    const playbackRate = async (bg, hl) => {
      await page.getByLabel('Background', { exact: true }).selectOption(bg);
      await page.getByLabel('Objects', { exact: true }).selectOption(hl);
      await goToFrame(0);
      await button('Play').click();
      await page.waitForFunction(() => Number(document.querySelector('canvas.stage-gl').dataset.drawnFrame) >= 3);
      const rate = await page.evaluate(() => new Promise((resolve) => {
        const c = document.querySelector('canvas.stage-gl');
        const seen = [];
        const t0 = performance.now();
        const tick = () => {
          const f = c.dataset.drawnFrame;
          if (seen.length === 0 || seen[seen.length - 1].f !== f) seen.push({ f, t: performance.now() });
          if (performance.now() - t0 < 2000) requestAnimationFrame(tick);
          else resolve((seen.length - 1) / ((seen[seen.length - 1].t - seen[0].t) / 1000));
        };
        tick();
      }));
      await button('Pause').click();
      return rate;
    };
    const gpu = await page.evaluate(() => {
      const gl = document.createElement('canvas').getContext('webgl2');
      const info = gl?.getExtension('WEBGL_debug_renderer_info');
      return info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : 'none';
    });
    await goToFrame(10);
    const digest = () => page.evaluate(() => {
      const c = document.querySelector('canvas.stage-gl');
      const small = new OffscreenCanvas(64, 36);
      small.getContext('2d').imageSmoothingQuality = 'high'; // an area average, not a few samples
      small.getContext('2d').drawImage(c, 0, 0, 64, 36);
      return Array.from(small.getContext('2d').getImageData(0, 0, 64, 36).data.filter((_, i) => i % 4 !== 3));
    });
    const distance = (a, b) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
    // The frame itself, drawn without effects, is the browser's own picture of it: from the <video>
    // on a GPU, from its I420 planes converted in the shader on software GL.
    await page.getByLabel('Background', { exact: true }).selectOption('none');
    await page.getByLabel('Objects', { exact: true }).selectOption('none');
    const plain = await page.evaluate(() => {
      const c = document.querySelector('canvas.stage-gl');
      const same = new OffscreenCanvas(c.width, c.height); // resampled to the canvas's size as the shader does
      same.getContext('2d').drawImage(document.querySelector('video'), 0, 0, c.width, c.height);
      const small = new OffscreenCanvas(64, 36);
      small.getContext('2d').imageSmoothingQuality = 'high'; // an area average, not a few samples
      small.getContext('2d').drawImage(same, 0, 0, 64, 36);
      return { source: c.dataset.frameSource, d: Array.from(small.getContext('2d').getImageData(0, 0, 64, 36).data.filter((_, i) => i % 4 !== 3)) };
    });
    const plainDistance = distance(await digest(), plain.d);
    console.log(`    frame from ${plain.source}: mean difference to the <video> ${plainDistance.toFixed(2)} levels`);
    assert(plainDistance < 2, `the plain frame differs from the video by ${plainDistance.toFixed(2)} levels`);
    if (/swiftshader|llvmpipe/i.test(gpu)) assert(plain.source === 'planes', `software GL drew from ${plain.source}`);
    await page.getByLabel('Objects', { exact: true }).selectOption('overlay');
    const pictures = [];
    const backgrounds = await page.locator('#effect-background option').evaluateAll((os) => os.map((o) => o.value));
    const highlights = await page.locator('#effect-highlight option').evaluateAll((os) => os.map((o) => o.value));
    for (const bg of backgrounds) {
      await page.getByLabel('Background', { exact: true }).selectOption(bg);
      pictures.push({ name: `background ${bg}`, d: await digest() });
    }
    await page.getByLabel('Background', { exact: true }).selectOption('none');
    for (const hl of highlights.filter((h) => h !== 'overlay')) {
      await page.getByLabel('Objects', { exact: true }).selectOption(hl);
      pictures.push({ name: `objects ${hl}`, d: await digest() });
    }
    for (let i = 0; i < pictures.length; i++) {
      for (let j = i + 1; j < pictures.length; j++) {
        assert(distance(pictures[i].d, pictures[j].d) > 0.5, `${pictures[i].name} and ${pictures[j].name} look the same`);
      }
    }
    console.log(`    WebGL: ${backgrounds.length - 1} background + ${highlights.length - 1} object effects, each a different picture`);
    await page.getByLabel('Background', { exact: true }).selectOption('desaturate');
    await page.getByLabel('Objects', { exact: true }).selectOption('glow');
    await shot('11-effect-desaturate-glow');
    const drawn = await page.evaluate(() => { const c = document.querySelector('canvas.stage-gl'); return `${c.width}x${c.height}`; });
    // The heaviest pairs: the blur pyramid with the outline's extra label fetches, and the glow.
    // Best of up to five windows each: the bar is what playback sustains, not a hiccup of a shared machine.
    for (const [bg, hl] of [['blur', 'overlay'], ['desaturate', 'glow']]) {
      const rates = [];
      while (rates.length < 5 && !(Math.max(...rates) >= 24)) rates.push(await playbackRate(bg, hl));
      console.log(`    playback, 16 objects at 1280x720 drawn at ${drawn}, ${bg} + ${hl}: ${rates.map((r) => r.toFixed(1)).join(', ')} frames/s (video 25 fps), WebGL on ${gpu}`);
      assert(Math.max(...rates) >= 24, `${bg} + ${hl}: playback at ${rates.map((r) => r.toFixed(1))} frames/s`);
    }
    await page.getByLabel('Background', { exact: true }).selectOption('none');
    await page.getByLabel('Objects', { exact: true }).selectOption('overlay');
  }, { independent: true });

  for (const [label, viewport, file] of [['phone', { width: 390, height: 844 }, '12-phone'], ['tablet', { width: 768, height: 1024 }, '13-tablet']]) {
    await runner.test(`${label} ${viewport.width}x${viewport.height}: no sideways scroll, video first, tap and long-press prompts`, async () => {
      const ctx = await browser.newContext({ viewport, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      const p = await ctx.newPage();
      watchConsole(p, label);
      try {
        await p.goto(backend.url);
        await enabledTrack(p).waitFor({ timeout: 60_000 });
        await p.waitForFunction(() => document.querySelector('video')?.readyState >= 2);
        await p.getByText('Tap the object', { exact: false }).waitFor();
        const layout = await p.evaluate(() => ({
          scroll: document.documentElement.scrollWidth, width: window.innerWidth,
          video: document.querySelector('canvas.stage-gl').getBoundingClientRect().top,
          library: document.querySelector('section.library').getBoundingClientRect().top,
          slider: document.querySelector('input[aria-label="Frame"]').getBoundingClientRect().width,
        }));
        assert(layout.scroll <= layout.width, `sideways scroll: ${layout.scroll} > ${layout.width}`);
        assert(layout.video < layout.library, 'the library comes before the video');
        assert(layout.slider > viewport.width * 0.45, `the frame slider is ${layout.slider} px`);
        const overlayPixel = (x, y) => p.evaluate(([nx, ny]) => {
          const c = document.querySelector('canvas[aria-label="Video canvas"]');
          return Array.from(c.getContext('2d').getImageData(Math.round(nx * c.width), Math.round(ny * c.height), 1, 1).data);
        }, [x, y]);
        const tap = await at(0.5, 0.5, p);
        await p.touchscreen.tap(tap.x, tap.y);
        await p.getByLabel('Object 1', { exact: true }).filter({ hasText: 'prompts on 1 frame' }).waitFor();
        const positive = await overlayPixel(0.5, 0.5);
        const hold = await at(0.25, 0.3, p);
        const cdp = await ctx.newCDPSession(p);
        await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: hold.x, y: hold.y }] });
        await p.waitForTimeout(900);
        await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
        await idle(p);
        const negative = await overlayPixel(0.25, 0.3);
        // Point markers: a white "+" on positive points, a red "-" on negative ones.
        assert(positive[0] > 200 && positive[1] > 200 && positive[2] > 200, `tap did not add a positive point: ${positive}`);
        assert(negative[0] > 200 && negative[1] < 120, `long-press did not add a negative point: ${negative}`);
        await shot(file, p);
      } finally {
        await ctx.close();
      }
    }, { independent: true });
  }

  await runner.test('a second browser does not see the first one\'s uploads', async () => {
    const fields = await gql('{ __type(name: "Video") { fields { name } } }');
    if (!fields.__type.fields.some((f) => f.name === 'displayName')) {
      throw new Error('SKIP: this server has no Video.displayName yet (needs the backend half of issue 12)');
    }
    const mine = await page.evaluate(() => [...document.querySelectorAll('.video-card')].filter((c) => c.textContent.includes('yours')).map((c) => c.textContent));
    assert(mine.some((l) => l.startsWith('my holiday')), `the upload is not listed under its file name: ${mine}`);
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const other = await ctx.newPage();
    try {
      await other.goto(backend.url);
      await other.locator('.video-card').first().waitFor();
      const names = await other.locator('.video-card').evaluateAll((cs) => cs.map((c) => c.textContent));
      assert(!names.some((n) => n.startsWith('my holiday')), `a second browser sees the upload: ${names}`);
    } finally {
      await ctx.close();
    }
  }, { independent: true, skipWhen: /^SKIP: / });

  await runner.test('a session the server dropped: the reload says so and replays every prompt', async () => {
    await openVideo('Bunny short');
    const rowsBefore = [await rowText(1), await rowText(2), await rowText(3)].map((t) => /prompts on \d+ frames?/.exec(t)?.[0]);
    // Evicted sessions come back from the server's database; a session closed for good does not.
    // By the video's path: `lastVideo` is saved a moment after a switch.
    const sessionId = await page.evaluate((path) => JSON.parse(localStorage.getItem('sam2-demo-work-v1')).videos[path].sessionId, `gallery/${CLIP.as}`);
    await gql('mutation($s: String!) { closeSession(input: {sessionId: $s}) { success } }', { s: sessionId });
    await page.reload();
    const notice = page.getByText("The server had dropped this video's session", { exact: false });
    await notice.waitFor({ timeout: 60_000 });
    console.log(`    ${await notice.textContent()}`);
    await idle();
    const rowsAfter = [await rowText(1), await rowText(2), await rowText(3)].map((t) => /prompts on \d+ frames?/.exec(t)?.[0]);
    assert(JSON.stringify(rowsAfter) === JSON.stringify(rowsBefore), `prompts after the replay ${rowsAfter}, before ${rowsBefore}`);
    await shot('14-replayed');
    // The new session works: a click segments.
    await clickAt(0.3, 0.7);
    await noAlerts();
  }, { independent: true });

  // Requests the tests mean to be refused log their 400/410/413 responses.
  await consoleErrors.test(runner, /Failed to load resource.*(400|410|413)/);
} finally {
  await browser.close();
  backend.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

endSuite(runner, ARTIFACTS);
