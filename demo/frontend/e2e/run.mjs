// End-to-end test of the demo UI against the real backend (random weights,
// micro config), driven through Debian's Chromium with playwright-core.
//
//   npm run e2e            (needs: ../../.venv with the backend installed,
//                           /usr/bin/chromium, ../../../shared/data)
//
// The flow is the acceptance of the frontend issue: open the page, pick a
// gallery video, click (mask pixels appear around the click), add a second
// object with a box, track (progress bar reaches 100 %, masks on the last
// frame), refine on a middle frame and track again, export (zip with one PNG
// per frame per object, of the video's size), plus the COCO and video
// exports, help overlay, and upload errors and success. Screenshots go to
// test-artifacts/e2e/.
import fs from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { countChanged, snapshot, waitChanged } from './pixels.mjs';
import { probePrompts } from './seed.mjs';
import {
  ARTIFACTS, SHARED_DATA, ConsoleErrors, assert, launchChromium, makeDataDir, endSuite, startBackend, startSuite,
} from './harness.mjs';

// 640x360, 25 fps, 60 frames (the bunny clip with an AAC track the server drops).
const CLIP = { from: 'uploads/with_audio_aac_640x360.mp4', as: 'bunny_short_640x360.mp4' };
const OTHER = { from: 'uploads/one_frame_640x360.mp4', as: 'a_single_frame_640x360.mp4' };
const HD = { from: 'gallery/bunny_1280x720_25fps.mp4', as: 'bunny_hd_1280x720_25fps.mp4' };
const W = 640;
const H = 360;
const FRAMES = 60;

// Prompts for objects 1 and 2 on frame 0 (seed.mjs checks the random weights give masks for them).
const CLICK = { x: 0.5, y: 0.5 };
const BOX = { x0: 0.1, y0: 0.1, x1: 0.4, y1: 0.6 };

let page = null;
const runner = startSuite('end-to-end flow', ARTIFACTS, () => page);

const dataDir = makeDataDir([CLIP, OTHER, HD]);
// Seed 3 suits the micro model as it is now; others are tried if the model changes.
const seeds = process.env.E2E_SEED ? [Number(process.env.E2E_SEED)] : [3, 1, 2, 5, 6, 7, 8];
let backend = null;
for (const seed of seeds) {
  backend = await startBackend(dataDir, path.join(ARTIFACTS, 'server.log'), seed);
  const problem = await probePrompts(backend.url, `gallery/${CLIP.as}`, CLICK, BOX).catch((e) => String(e));
  if (!problem) {
    console.log(`backend on random weights, seed ${seed}: ${backend.url}`);
    break;
  }
  console.log(`seed ${seed} does not suit the test (${problem}); trying the next one`);
  backend.stop();
  backend = null;
}
if (!backend) {
  await runner.test('a seed whose random weights give masks for the test prompts', () => {
    throw new Error(`none of the seeds ${seeds.join(', ')} does; see the lines above`);
  });
  fs.rmSync(dataDir, { recursive: true, force: true });
  console.log(runner.summary());
  process.exit(1);
}
const browser = await launchChromium();
page = await browser.context.newPage();
const consoleErrors = new ConsoleErrors();
consoleErrors.watch(page);

const canvas = page.getByLabel('Video canvas', { exact: true });
const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });

/** Client px of a normalised point on the canvas. */
async function at(x, y) {
  const box = await canvas.boundingBox();
  return { x: box.x + x * box.width, y: box.y + y * box.height };
}

const currentFrame = async () => Number(await page.getByLabel('Current frame', { exact: true }).textContent());
const progressValue = async () => Number(await page.getByRole('progressbar', { name: 'Tracking progress' }).getAttribute('aria-valuenow'));

/** Move the scrubber to a frame the way a keyboard user would. */
async function goToFrame(frame) {
  const slider = page.getByRole('slider', { name: 'Frame' });
  await slider.focus();
  await page.keyboard.press('Home');
  await slider.evaluate((el, f) => {
    // React listens to input events; use the native setter so it sees the change.
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
    setter.call(el, String(f));
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, frame);
  await page.waitForFunction((f) => document.querySelector('output[aria-label="Current frame"]')?.textContent === String(f), frame);
  await page.waitForTimeout(300); // the seeked frame is drawn on the next video frame callback
}

async function trackToTheEnd(label) {
  await page.getByRole('button', { name: 'Track objects', exact: true }).click();
  await page.getByRole('progressbar', { name: 'Tracking progress' }).waitFor();
  // Every frame received (100%) comes a moment before the stream's end: wait for the run to end.
  await page.waitForFunction(
    () => /done|failed|cancelled/.test(document.querySelector('.tracking-detail')?.textContent ?? ''),
    null,
    { timeout: 240_000, polling: 250 },
  );
  assert((await page.getByRole('progressbar', { name: 'Tracking progress' }).getAttribute('aria-valuenow')) === '100', 'not at 100% when done');
  await shot(label);
  const detail = await page.locator('.tracking-detail').textContent();
  assert(/done/.test(detail), `tracking did not finish cleanly: ${detail}`);
  return detail;
}

try {
  await runner.test('page opens on the default video with the random-weights banner and a hint', async () => {
    await page.goto(backend.url);
    await canvas.waitFor();
    await page.getByText('random weights', { exact: false }).first().waitFor();
    await page.getByText('Click the object you want to track', { exact: false }).waitFor();
    for (const name of ['Upload video', 'Track objects', 'Cancel tracking', 'Add object', 'Export masks', 'Play']) {
      assert((await page.getByRole('button', { name, exact: true }).count()) === 1, `no single "${name}" button`);
    }
    assert((await page.getByLabel('Object 1', { exact: true }).count()) === 1, 'no "Object 1" row');
    assert((await page.getByRole('listitem').filter({ hasText: 'Bunny short' }).count()) === 1, 'gallery lacks the clip');
    await shot('01-opened');
  });

  await runner.test('pick a gallery video', async () => {
    await page.getByRole('button', { name: /^A single frame/ }).click();
    await page.getByRole('button', { name: 'Track objects', exact: true }).and(page.locator(':enabled')).waitFor();
    await page.getByRole('button', { name: /^Bunny short/ }).click();
    await page.waitForFunction(() => document.querySelector('.video-card.current')?.textContent?.includes('Bunny short'));
    await page.getByRole('button', { name: 'Track objects', exact: true }).and(page.locator(':enabled')).waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => document.querySelector('video')?.readyState >= 2);
    const size = await canvas.evaluate((c) => [c.width, c.height]);
    assert(size[0] === W && size[1] === H, `canvas is ${size}, expected ${W}x${H}`);
    assert((await currentFrame()) === 0, 'not on frame 0');
  });

  await runner.test('click: mask pixels appear around the click', async () => {
    const p = await at(CLICK.x, CLICK.y);
    await page.mouse.click(p.x, p.y);
    const cx = Math.round(CLICK.x * W);
    const cy = Math.round(CLICK.y * H);
    const n = await waitChanged(
      page,
      { region: [cx - 60, cy - 60, cx + 60, cy + 60], reference: 'video', exclude: [[cx, cy]], radius: 12 },
      2000,
    );
    await shot('02-click-mask');
    console.log(`    ${n} of ${120 * 120} pixels around the click are masked`);
    const row = await page.getByLabel('Object 1', { exact: true }).textContent();
    assert(/prompts on 1 frame/.test(row), `Object 1 row says: ${row}`);
  });

  await runner.test('a second object with a box', async () => {
    await page.getByRole('button', { name: 'Add object', exact: true }).click();
    await page.getByLabel('Object 2', { exact: true }).waitFor();
    assert((await page.getByRole('button', { name: 'Select Object 2' }).getAttribute('aria-pressed')) === 'true', 'Object 2 is not selected');
    await snapshot(page);
    const a = await at(BOX.x0, BOX.y0);
    const b = await at(BOX.x1, BOX.y1);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
    await page.mouse.move(b.x, b.y, { steps: 5 });
    await page.mouse.up();
    const inner = [Math.round(BOX.x0 * W) + 8, Math.round(BOX.y0 * H) + 8, Math.round(BOX.x1 * W) - 8, Math.round(BOX.y1 * H) - 8];
    const n = await waitChanged(page, { region: inner, reference: 'snapshot' }, 1000);
    await shot('03-box-mask');
    console.log(`    ${n} pixels inside the box changed colour`);
    const row = await page.getByLabel('Object 2', { exact: true }).textContent();
    assert(/prompts on 1 frame/.test(row), `Object 2 row says: ${row}`);
  });

  await runner.test('track: progress reaches 100% and masks show on the last frame', async () => {
    const detail = await trackToTheEnd('04-tracked');
    console.log(`    ${detail}`);
    await goToFrame(FRAMES - 1);
    const n = await page.evaluate(countChanged, { region: [0, 0, W, H], reference: 'video' });
    await shot('05-last-frame');
    console.log(`    last frame: ${n} of ${W * H} pixels show masks`);
    assert(n > 2000, `only ${n} mask pixels on the last frame`);
  });

  await runner.test('refine on a middle frame and track again', async () => {
    const middle = Math.floor(FRAMES / 2);
    await goToFrame(middle);
    await page.getByRole('button', { name: 'Select Object 2' }).click();
    await snapshot(page);
    // A negative click inside the second object's area.
    const p = await at(0.25, 0.35);
    await page.mouse.click(p.x, p.y, { button: 'right' });
    await page.waitForFunction(() => !document.querySelector('.pending'));
    await page.getByLabel('Object 2', { exact: true }).filter({ hasText: 'prompts on 2 frames' }).waitFor();
    await shot('06-refined');
    assert((await currentFrame()) === middle, 'left the middle frame');
    const before = await progressValue();
    assert(before === 100, `progress should still show the last run (${before})`);
    await page.keyboard.press('t'); // the keyboard shortcut this time
    await page.waitForFunction(
      () => Number(document.querySelector('[aria-label="Tracking progress"]')?.getAttribute('aria-valuenow')) < 100,
      null,
      { timeout: 10_000, polling: 20 },
    ).catch(() => undefined); // a very fast run may be over before we look
    await page.waitForFunction(
      () => document.querySelector('[aria-label="Tracking progress"]')?.getAttribute('aria-valuenow') === '100' &&
        /done/.test(document.querySelector('.tracking-detail')?.textContent ?? ''),
      null,
      { timeout: 240_000, polling: 250 },
    );
    await goToFrame(FRAMES - 1);
    const n = await page.evaluate(countChanged, { region: [0, 0, W, H], reference: 'video' });
    await shot('07-retracked-last-frame');
    assert(n > 2000, `only ${n} mask pixels on the last frame after re-tracking`);
  });

  await runner.test('export: zip with one PNG per frame per object of the video size', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export masks', exact: true }).click()]);
    const file = path.join(ARTIFACTS, download.suggestedFilename());
    await download.saveAs(file);
    const files = unzipSync(new Uint8Array(fs.readFileSync(file)));
    const pngs = Object.keys(files).filter((n) => n.endsWith('.png'));
    assert(pngs.length === 2 * FRAMES, `${pngs.length} PNGs, expected ${2 * FRAMES}`);
    for (const obj of ['object_01', 'object_02']) {
      for (let f = 0; f < FRAMES; f++) assert(files[`${obj}/frame_${String(f).padStart(5, '0')}.png`], `missing ${obj} frame ${f}`);
    }
    let nonEmpty = 0;
    for (const name of pngs) {
      const b = files[name];
      const v = new DataView(b.buffer, b.byteOffset);
      assert(b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47, `${name} is not a PNG`);
      assert(v.getUint32(16) === W && v.getUint32(20) === H, `${name} is ${v.getUint32(16)}x${v.getUint32(20)}`);
      if (b.length > 400) nonEmpty++;
    }
    console.log(`    ${pngs.length} PNGs of ${W}x${H}; ${nonEmpty} carry mask pixels`);
    assert(nonEmpty > FRAMES, 'most PNGs are empty');
  });

  await runner.test('export: COCO RLE JSON', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export COCO JSON', exact: true }).click()]);
    const coco = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
    assert(coco.images.length === FRAMES, `${coco.images.length} images`);
    // No labels given: one category for both objects, each its own instance.
    assert(coco.categories.length === 1 && coco.categories[0].name === 'unlabelled', `categories ${JSON.stringify(coco.categories)}`);
    assert(coco.instances.length === 2, `${coco.instances.length} instances`);
    assert(coco.annotations.length === 2 * FRAMES, `${coco.annotations.length} annotations`);
    for (const a of coco.annotations) assert(a.segmentation.size[0] === H && a.segmentation.size[1] === W, 'annotation size');
  });

  await runner.test('effects render and the video export (WebCodecs + MP4) produces a playable file', async () => {
    await page.getByLabel('Background', { exact: true }).selectOption('blur');
    await page.waitForTimeout(300);
    await shot('08a-effect-blur');
    await page.getByLabel('Background', { exact: true }).selectOption('black');
    await page.waitForTimeout(300);
    await shot('08b-effect-cutout');
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 180_000 }),
      page.getByRole('button', { name: 'Export video', exact: true }).click(),
    ]);
    const file = path.join(ARTIFACTS, download.suggestedFilename());
    await download.saveAs(file);
    const bytes = fs.readFileSync(file);
    assert(bytes.subarray(4, 8).toString('latin1') === 'ftyp', 'not an MP4 file');
    // Play it back in the browser: the right size and frame count's duration.
    const meta = await page.evaluate(async (b64) => {
      const blob = new Blob([Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0))], { type: 'video/mp4' });
      const v = document.createElement('video');
      v.muted = true;
      v.src = URL.createObjectURL(blob);
      await new Promise((res, rej) => { v.onloadedmetadata = res; v.onerror = () => rej(new Error('cannot play the export')); });
      return { w: v.videoWidth, h: v.videoHeight, d: v.duration };
    }, bytes.toString('base64'));
    console.log(`    exported ${bytes.length} bytes, ${meta.w}x${meta.h}, ${meta.d.toFixed(2)} s`);
    assert(meta.w === W && meta.h === H, `export is ${meta.w}x${meta.h}`);
    assert(Math.abs(meta.d - FRAMES / 25) < 0.1, `export lasts ${meta.d} s`);
    await page.getByLabel('Background', { exact: true }).selectOption('none');
  }, { independent: true });

  await runner.test('play and pause', async () => {
    await goToFrame(0);
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.getByRole('button', { name: 'Pause', exact: true }).waitFor();
    // How many distinct frames the canvas shows per second while playing with masks on.
    const shown = await page.evaluate(() => new Promise((resolve) => {
      const out = document.querySelector('canvas.stage-gl'); // data-drawn-frame: the frame it last drew
      const seen = new Set();
      const t0 = performance.now();
      const tick = () => {
        seen.add(out.dataset.drawnFrame);
        if (performance.now() - t0 < 1500) requestAnimationFrame(tick);
        else resolve(seen.size / 1.5);
      };
      tick();
    }));
    console.log(`    playback with two masks: ${shown.toFixed(1)} distinct frames/s drawn (video: 25 fps)`);
    assert(shown >= 12, `playback too slow: ${shown} frames/s`);
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.getByRole('button', { name: 'Play', exact: true }).waitFor();
    // Space plays when nothing has the focus; on a focused button it presses that button.
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press(' ');
    await page.getByRole('button', { name: 'Pause', exact: true }).waitFor();
    await page.keyboard.press(' ');
    await page.getByRole('button', { name: 'Play', exact: true }).waitFor();
    const objectsBefore = await page.locator('.object').count();
    await page.getByRole('button', { name: 'Add object', exact: true }).focus();
    await page.keyboard.press(' ');
    await page.waitForFunction((n) => document.querySelectorAll('.object').length === n + 1, objectsBefore);
    assert(!(await page.getByRole('button', { name: 'Pause', exact: true }).isVisible()), 'Space on a button also started playback');
    await page.keyboard.press('Control+z'); // the added object goes again
    await page.waitForFunction((n) => document.querySelectorAll('.object').length === n, objectsBefore);
    await page.evaluate(() => document.activeElement?.blur());
    const f = await currentFrame();
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((g) => Number(document.querySelector('output[aria-label="Current frame"]')?.textContent) === g + 1, f);
  }, { independent: true });

  await runner.test('help overlay opens with ? and closes with Esc', async () => {
    await page.locator('body').press('?');
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
    await shot('09-help');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor({ state: 'detached' });
  }, { independent: true });

  await runner.test('a point clicked again is removed; Ctrl+Z brings it back', async () => {
    await goToFrame(10);
    await page.getByRole('button', { name: 'Select Object 1' }).click();
    const p = await at(0.7, 0.7);
    await page.mouse.click(p.x, p.y);
    const row = page.getByLabel('Object 1', { exact: true });
    await row.filter({ hasText: 'prompts on 2 frames' }).waitFor();
    await page.waitForFunction(() => !document.querySelector('.pending'));
    await page.mouse.click(p.x, p.y); // on the point: removes it
    await row.filter({ hasText: 'prompts on 1 frame' }).waitFor();
    await page.waitForFunction(() => !document.querySelector('.pending'));
    await page.keyboard.press('Control+z');
    await row.filter({ hasText: 'prompts on 2 frames' }).waitFor();
    await page.waitForFunction(() => !document.querySelector('.pending'));
  }, { independent: true });

  await runner.test('objects: N adds one, rename, recolour, remove', async () => {
    await page.locator('body').press('n');
    let row = page.getByLabel('Object 3', { exact: true });
    await row.waitFor();
    const name = page.getByLabel('Name of Object 3', { exact: true });
    await name.fill('the rock');
    await name.press('Enter');
    assert((await name.inputValue()) === 'the rock', 'rename did not stick');
    // A screen reader hears the new name on the row's buttons, not "Object 3".
    assert((await page.getByRole('button', { name: 'Select Object 3', exact: true }).count()) === 0, 'a button still says "Select Object 3"');
    row = page.getByLabel('the rock', { exact: true });
    await page.getByLabel('Colour of the rock', { exact: true }).fill('#00ff00');
    // A prompt for the new object after tracking ran: the server must accept it.
    const p = await at(0.5, 0.5);
    await page.mouse.click(p.x, p.y);
    await row.filter({ hasText: 'prompts on 1 frame' }).waitFor();
    await page.waitForFunction(() => !document.querySelector('.pending'));
    assert((await page.getByRole('alert').count()) === 0, `error shown: ${await page.getByRole('alert').allTextContents()}`);
    await shot('10-third-object');
    await page.getByRole('button', { name: 'Remove the rock', exact: true }).click();
    await row.waitFor({ state: 'detached' });
  }, { independent: true });

  await runner.test('cancel tracking stops the stream and the session keeps working', async () => {
    await page.getByRole('button', { name: 'Track objects', exact: true }).click();
    await page.getByRole('button', { name: 'Cancel tracking', exact: true }).and(page.locator(':enabled')).waitFor();
    await page.waitForFunction(
      () => Number(document.querySelector('[aria-label="Tracking progress"]')?.getAttribute('aria-valuenow')) > 0,
      null, { polling: 20, timeout: 60_000 },
    );
    await page.keyboard.press('Escape');
    await page.locator('.tracking-detail').filter({ hasText: 'cancelled' }).waitFor();
    const value = await progressValue();
    assert(value < 100, `progress says ${value}% after cancel`);
    await shot('11-cancelled');
    // The server must take the next prompt right away.
    const p = await at(0.6, 0.4);
    await page.mouse.click(p.x, p.y);
    await page.waitForFunction(() => !document.querySelector('.pending'), null, { timeout: 15_000 });
    assert((await page.getByRole('alert').count()) === 0, `error shown: ${await page.getByRole('alert').allTextContents()}`);
    await trackToTheEnd('12-tracked-after-cancel');
  }, { independent: true });

  await runner.test('upload: a 10-minute video is refused as too long before sending', async () => {
    await page.locator('input[type="file"]').setInputFiles(path.join(SHARED_DATA, 'uploads', 'long_10min_64x36_24fps.mp4'));
    const alert = page.getByRole('alert').filter({ hasText: 'too long' });
    await alert.waitFor({ timeout: 15_000 });
    console.log(`    ${await alert.textContent()}`);
    await shot('13-too-long');
  }, { independent: true });

  await runner.test('upload: a text file named .mp4 gets a clear error', async () => {
    // Through the real button and its file chooser.
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByRole('button', { name: 'Upload video', exact: true }).click()]);
    await chooser.setFiles(path.join(SHARED_DATA, 'uploads', 'text_file_named_clip', 'clip.mp4'));
    const alert = page.getByRole('alert').filter({ hasText: 'Upload failed' });
    await alert.waitFor({ timeout: 30_000 });
    await shot('13-upload-error');
    console.log(`    ${await alert.textContent()}`);
  }, { independent: true });

  await runner.test('upload: a file over the server limit is refused before sending', async () => {
    const big = path.join(ARTIFACTS, 'too_big.mp4');
    fs.writeFileSync(big, Buffer.alloc(21 * 1024 * 1024));
    await page.locator('input[type="file"]').setInputFiles(big);
    await page.getByRole('alert').filter({ hasText: 'too large' }).waitFor({ timeout: 10_000 });
    fs.rmSync(big);
  }, { independent: true });

  await runner.test('upload: a QuickTime file dropped on the library is transcoded, listed and opened', async () => {
    const before = await page.locator('.video-card').count();
    const b64 = fs.readFileSync(path.join(SHARED_DATA, 'uploads', 'quicktime_h264_640x360.mov')).toString('base64');
    await page.evaluate((data) => {
      const bytes = Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'phone clip.mov', { type: 'video/quicktime' }));
      const zone = document.querySelector('section.library');
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, b64);
    await page.waitForFunction((n) => {
      const current = document.querySelector('.video-card.current')?.textContent ?? '';
      return document.querySelectorAll('.video-card').length === n + 1 && /2\.0 s · 50 frames/.test(current);
    }, before, { timeout: 120_000 });
    await page.getByRole('button', { name: 'Track objects', exact: true }).and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
    await page.waitForFunction(() => document.querySelector('video')?.readyState >= 2);
    await shot('14-uploaded');
  }, { independent: true });

  await runner.test('upload: a too-long video can be trimmed to the limit', async () => {
    const before = await page.locator('.video-card').count();
    await page.locator('input[type="file"]').setInputFiles(path.join(SHARED_DATA, 'uploads', 'long_10min_64x36_24fps.mp4'));
    await page.getByRole('button', { name: 'Upload the first 10 s', exact: true }).click();
    await page.waitForFunction((n) => {
      const current = document.querySelector('.video-card.current')?.textContent ?? '';
      return document.querySelectorAll('.video-card').length === n + 1 && /64×36 · 10\.0 s · 240 frames/.test(current);
    }, before, { timeout: 120_000 });
    await page.getByRole('button', { name: 'Track objects', exact: true }).and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
    await shot('15-trimmed-upload');
  }, { independent: true });

  await runner.test('a 1280x720 clip: track it and play it back with masks at a usable rate', async () => {
    await page.getByRole('button', { name: /^Bunny hd/ }).click();
    await page.getByRole('button', { name: 'Track objects', exact: true }).and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
    await page.waitForFunction(() => document.querySelector('video')?.readyState >= 2);
    const p = await at(0.5, 0.5);
    await page.mouse.click(p.x, p.y);
    await page.waitForFunction(() => !document.querySelector('.pending'));
    const detail = await trackToTheEnd('16-hd-tracked');
    console.log(`    ${detail}`);
    await goToFrame(0);
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    const rate = await page.evaluate(() => new Promise((resolve) => {
      const out = document.querySelector('canvas.stage-gl'); // data-drawn-frame: the frame it last drew
      const seen = new Set();
      const t0 = performance.now();
      const tick = () => {
        seen.add(out.dataset.drawnFrame);
        if (performance.now() - t0 < 2000) requestAnimationFrame(tick);
        else resolve(seen.size / 2);
      };
      tick();
    }));
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    const masked = await page.evaluate(countChanged, { region: [0, 0, 1280, 720], reference: 'video' });
    await shot('17-hd-playback');
    console.log(`    playback at 1280x720: ${rate.toFixed(1)} distinct frames/s drawn; ${masked} mask pixels on the paused frame`);
    assert(rate >= 12, `playback too slow: ${rate} frames/s`);
  }, { independent: true });

  await runner.test('an evicted session comes back from the database: the next click just works', async () => {
    // Two other visitors open sessions; the server keeps 2, so ours (least recent) leaves its memory.
    // (Other tabs of this browser would share its saved sessions: the visitors call the API.)
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${backend.url}/graphql`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Client-Id': `e2e-visitor-${i}` },
        body: JSON.stringify({ query: 'mutation($p: String!) { startSession(input: {path: $p}) { sessionId } }', variables: { p: `gallery/${OTHER.as}` } }),
      });
      assert(r.ok, `another visitor could not start a session: HTTP ${r.status}`);
    }
    const frames = (await currentFrame()) === 0 ? 1 : 2; // the HD test prompted frame 0
    const p = await at(0.4, 0.4);
    await page.mouse.click(p.x, p.y);
    await page.waitForFunction(() => !document.querySelector('.pending'));
    await page.getByLabel('Object 1', { exact: true }).filter({ hasText: `prompts on ${frames} frame` }).waitFor();
    await shot('18-session-rebuilt');
    const dropped = await page.getByText("The server had dropped this video's session", { exact: false }).count();
    assert(dropped === 0, 'the page replayed the session although the server rebuilt it');
    assert((await page.getByRole('alert').count()) === 0, `error after the click: ${await page.getByRole('alert').allTextContents()}`);
  }, { independent: true });

  // Uploads the tests mean to be refused log their 400/410/413 responses.
  await consoleErrors.test(runner, /Failed to load resource.*(400|410|413)/);
} finally {
  await browser.close();
  backend.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

endSuite(runner, ARTIFACTS);
