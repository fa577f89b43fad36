// End-to-end test of "Segment everything" against the real backend (random
// weights, micro config) in Debian's Chromium: segment everything on a frame
// -> proposals are listed and drawn -> keep all -> they become objects ->
// track -> the mask export holds one PNG per kept object per frame. Keeping
// a proposal is one undo step.
// A cancelled run leaves no proposals. Screenshots go to
// test-artifacts/e2e-everything/.
//
//   npm run e2e            (runs e2e/run.mjs, e2e/trust.mjs, then this file)
//   node e2e/segment_everything.mjs   (this file alone)
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { countChanged, snapshot } from './pixels.mjs';
import { pngHasForeground } from './png.mjs';
import {
  FRONTEND_DIR, ConsoleErrors, assert, launchChromium, makeDataDir, endSuite, pageSteps, startBackend, startSuite,
} from './harness.mjs';

const ARTIFACTS = path.join(FRONTEND_DIR, 'test-artifacts', 'e2e-everything');
// 640x360, 25 fps, 60 frames.
const CLIP = { from: 'uploads/with_audio_aac_640x360.mp4', as: 'bunny_short_640x360.mp4' };
const W = 640;
const H = 360;
const FRAMES = 60;
const FRAME = 20; // segment a frame in the middle, so tracking runs both ways

let page = null;
const runner = startSuite('segment everything flow', ARTIFACTS, () => page);

const dataDir = makeDataDir([CLIP]);
const backend = await startBackend(dataDir, path.join(ARTIFACTS, 'server.log'), 3);
const browser = await launchChromium();
page = await browser.context.newPage();
const consoleErrors = new ConsoleErrors();
consoleErrors.watch(page);
const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
const proposals = () => page.locator('li.proposal');
const steps = pageSteps(page);
const { ready, track } = steps;

async function goToFrame(frame) {
  await steps.goToFrame(frame);
  await page.waitForTimeout(300);
}

let kept = 0;
try {
  await runner.test('open the clip', async () => {
    await page.goto(backend.url);
    // The panel is a disclosure, closed until opened.
    assert(!(await page.getByRole('button', { name: 'Segment this frame', exact: true }).isVisible()), 'the panel is open from the start');
    await page.locator('details.everything > summary').click();
    await page.getByRole('button', { name: 'Segment this frame', exact: true }).and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
    await ready();
    await goToFrame(FRAME);
  });

  await runner.test('a cancelled run leaves no proposals', async () => {
    await page.getByLabel('Density', { exact: true }).selectOption('32');
    await page.getByRole('button', { name: 'Segment this frame', exact: true }).click();
    await page.getByRole('progressbar', { name: 'Segment everything progress' }).waitFor();
    // The server reports batches once it runs.
    await page.waitForFunction(
      () => !/of 0 batches/.test(document.querySelector('[aria-label="Segment everything progress"]')?.getAttribute('aria-valuetext') ?? 'of 0 batches'),
      null, { timeout: 60_000 });
    await page.getByRole('button', { name: 'Cancel segmenting', exact: true }).click();
    await page.getByText('Segment everything cancelled', { exact: false }).waitFor({ timeout: 60_000 });
    assert((await proposals().count()) === 0, 'proposals after a cancel');
  });

  await runner.test('segment everything: proposals listed best first and drawn on the frame', async () => {
    await page.getByLabel('Density', { exact: true }).selectOption('8');
    await snapshot(page);
    await page.getByRole('button', { name: 'Segment this frame', exact: true }).click();
    await proposals().first().waitFor({ timeout: 120_000 });
    await page.waitForTimeout(300);
    await shot('01-proposals');
    const n = await proposals().count();
    const scores = (await proposals().allTextContents()).map((t) => Number(/score ([0-9.]+)/.exec(t)[1]));
    console.log(`    ${n} proposals, scores ${scores.join(', ')}`);
    assert(n >= 3, `only ${n} proposals`);
    assert(scores.every((s, i) => i === 0 || scores[i - 1] >= s), 'proposals are not sorted by score');
    const drawn = await page.evaluate(countChanged, { region: [0, 0, W, H], reference: 'snapshot' });
    assert(drawn > 1000, `only ${drawn} pixels changed: proposals are not drawn`);
    // Hovering a row draws its proposal alone; leaving it draws them all again.
    await proposals().first().hover();
    await page.waitForTimeout(300);
    const alone = await page.evaluate(countChanged, { region: [0, 0, W, H], reference: 'snapshot' });
    assert(alone > 0 && alone < drawn, `hovering proposal 1 draws ${alone} pixels, all of them ${drawn}`);
    await page.mouse.move(0, 0);
    await page.waitForTimeout(300);
    const again = await page.evaluate(countChanged, { region: [0, 0, W, H], reference: 'snapshot' });
    assert(Math.abs(again - drawn) < drawn * 0.05, `after the hover ${again} pixels, before ${drawn}`);
    // The open panel with its proposals passes an axe audit (evaluated over the DevTools
    // protocol: the page's Content-Security-Policy refuses injected inline scripts).
    await page.evaluate(fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8'));
    const violations = await page.evaluate(async () => {
      const r = await window.axe.run(document.querySelector('details.everything'), { resultTypes: ['violations'] });
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help}`);
    });
    assert(violations.length === 0, `axe: ${violations.join('; ')}`);
  });

  await runner.test('keep one, undo it (mask gone, proposal back); drop one, drop all', async () => {
    const before = await proposals().count();
    assert(before >= 3, `only ${before} proposals`);
    // The empty object the video opened with takes the kept proposal, prompted by its mask.
    await page.getByRole('button', { name: 'Keep proposal 1', exact: true }).click();
    await page.waitForFunction(() => /prompts on 1 frame · masks on 1/.test(document.querySelector('li.object .object-info')?.textContent ?? ''), null, { timeout: 60_000 });
    assert((await page.locator('li.object').count()) === 1, 'keeping a proposal did not reuse the empty object');
    assert((await proposals().count()) === before - 1, 'the kept proposal is still proposed');
    await page.getByRole('button', { name: 'Undo', exact: true }).click();
    await page.getByText('Undid keeping a proposal', { exact: false }).waitFor();
    await page.waitForFunction(() => document.querySelector('li.object .object-info')?.textContent === 'no prompts', null, { timeout: 60_000 });
    assert((await proposals().count()) === before, 'undoing the keep did not put the proposal back');
    // Only the remaining proposals differ from the bare frame (the snapshot): hide them, then compare.
    await page.getByRole('button', { name: `Drop proposal ${before}`, exact: true }).click();
    assert((await proposals().count()) === before - 1, 'drop did not remove the proposal');
    await page.getByRole('button', { name: 'Drop all', exact: true }).click();
    assert((await proposals().count()) === 0, 'proposals left after drop all');
    await page.waitForTimeout(300);
    const left = await page.evaluate(countChanged, { region: [0, 0, W, H], reference: 'snapshot' });
    assert(left < 50, `${left} pixels differ from the bare frame after the undo: the kept mask is still drawn`);
  });

  await runner.test('segment again, keep all: they become objects', async () => {
    await page.getByRole('button', { name: 'Segment this frame', exact: true }).click();
    await proposals().first().waitFor({ timeout: 120_000 });
    kept = await proposals().count();
    assert(kept >= 2, `only ${kept} proposals`);
    // A reload shows them again (a long run is not wasted): the same ones, on their frame.
    const listed = await proposals().allTextContents();
    await page.reload();
    await ready();
    // Restored proposals open the panel by themselves; a click on its summary would close it.
    if (!(await page.locator('details.everything').evaluate((d) => d.open))) {
      await page.locator('details.everything > summary').click();
    }
    await proposals().first().waitFor({ timeout: 30_000 });
    assert(JSON.stringify(await proposals().allTextContents()) === JSON.stringify(listed), `after a reload: ${await proposals().allTextContents()} (before: ${listed})`);
    await page.getByRole('button', { name: 'Keep all', exact: true }).click();
    await page.waitForFunction((k) => document.querySelectorAll('li.object').length === k, kept, { timeout: 60_000 });
    assert((await proposals().count()) === 0, 'proposals left after keep all');
    await shot('02-kept');
  });

  await runner.test('track them all', async () => {
    await track(300_000);
    assert((await page.getByRole('progressbar', { name: 'Tracking progress' }).getAttribute('aria-valuenow')) === '100', 'not at 100% when done');
    await shot('03-tracked');
  });

  await runner.test('export: one PNG per kept object per frame', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export masks', exact: true }).click()]);
    const files = unzipSync(new Uint8Array(fs.readFileSync(await download.path())));
    const pngs = Object.keys(files).filter((n) => n.endsWith('.png'));
    assert(pngs.length === kept * FRAMES, `${pngs.length} PNGs, expected ${kept} objects x ${FRAMES} frames`);
    const folders = new Set(pngs.map((n) => n.split('/')[0]));
    assert(folders.size === kept, `${folders.size} object folders`);
    let nonEmpty = 0;
    for (const name of pngs) {
      const b = files[name];
      const v = new DataView(b.buffer, b.byteOffset);
      assert(v.getUint32(16) === W && v.getUint32(20) === H, `${name} is ${v.getUint32(16)}x${v.getUint32(20)}`);
      if (pngHasForeground(b)) nonEmpty++;
    }
    console.log(`    ${pngs.length} PNGs (${kept} objects); ${nonEmpty} carry mask pixels`);
    for (const folder of folders) {
      assert(pngHasForeground(files[`${folder}/frame_${String(FRAME).padStart(5, '0')}.png`]), `${folder} is empty on the segmented frame`);
    }
  });

  await consoleErrors.test(runner);
} finally {
  await browser.close();
  backend.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

endSuite(runner, ARTIFACTS);
