// Helpers of the end-to-end run: paths, a free port, the real backend under
// gunicorn (random weights, micro config), Debian's Chromium, and a tiny
// sequential test runner that prints "N passed, N failed".
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FRONTEND_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(FRONTEND_DIR, '..', '..');
export const SHARED_DATA = path.resolve(REPO_ROOT, '..', 'shared', 'data');
export const ARTIFACTS = path.join(FRONTEND_DIR, 'test-artifacts', 'e2e');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const GUNICORN = path.join(REPO_ROOT, '.venv', 'bin', 'gunicorn');

/** Why the run cannot happen here, or null. */
export function missingPrerequisite() {
  if (!fs.existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (!fs.existsSync(GUNICORN)) return `no ${path.relative(FRONTEND_DIR, GUNICORN)} (run \`make venv\` at the repository root)`;
  if (!fs.existsSync(SHARED_DATA)) return `no test media at ${path.relative(FRONTEND_DIR, SHARED_DATA)}`;
  return null;
}

/** Build dist/ when it is missing (make test-e2e builds it first). */
export function ensureBuilt() {
  if (fs.existsSync(path.join(FRONTEND_DIR, 'dist', 'index.html'))) return;
  const r = spawnSync('npm', ['run', 'build'], { cwd: FRONTEND_DIR, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A temporary DATA_PATH whose gallery holds short clips from the shared test media.
 * @param clips [{from: path relative to SHARED_DATA, as: gallery file name}]
 */
export function makeDataDir(clips) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2-e2e-data-'));
  fs.mkdirSync(path.join(dir, 'gallery'));
  for (const c of clips) fs.copyFileSync(path.join(SHARED_DATA, c.from), path.join(dir, 'gallery', c.as));
  return dir;
}

/**
 * Start the real backend (it serves dist/ at `/`) on seeded random weights and wait until /healthy answers.
 * `port`: a port to bind (a restart on the same address), else a free one; the log is appended to.
 * Returns {url, port, stop (SIGTERM), kill (SIGKILL, resolves once it is gone), child}.
 */
export async function startBackend(dataDir, logFile, seed, extraEnv = {}, port = null) {
  port ??= await freePort();
  const log = fs.openSync(logFile, 'a');
  const child = spawn(
    GUNICORN,
    ['-c', 'demo/backend/gunicorn.conf.py', '--bind', `127.0.0.1:${port}`, '--threads', '8', 'demo.backend.app:create_app()'],
    {
      cwd: REPO_ROOT,
      detached: true, // own process group, so stopping it also stops its worker
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        SAM2_DEMO_RANDOM_WEIGHTS: '1',
        SAM2_DEMO_CONFIG: process.env.SAM2_DEMO_CONFIG || 'configs/sam2.1/sam2.1_hiera_micro.yaml',
        SAM2_DEMO_DEVICE: 'cpu',
        // The masks of random weights, which the tests' prompts are chosen for, must not depend on
        // whether this CPU computes bf16 (precision auto): float32 everywhere.
        SAM2_DEMO_PRECISION: 'fp32',
        SAM2_DEMO_SEED: String(seed),
        DATA_PATH: dataDir,
        FRONTEND_DIST: path.join(FRONTEND_DIR, 'dist'),
        MAX_UPLOAD_MB: '20',
        // Small, so one test can push the main page's session out (LRU eviction).
        MAX_SESSIONS: '2',
        ...extraEnv,
      },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const kill = async () => {
    try {
      process.kill(-child.pid, 'SIGKILL'); // the process group: gunicorn's arbiter and its worker
    } catch {
      // already gone
    }
    await exited;
  };
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the backend exited with ${child.exitCode}; see ${logFile}`);
    try {
      const r = await fetch(`${url}/healthy`);
      if (r.ok) return { url, port, stop, kill, child };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  stop();
  throw new Error(`the backend did not answer /healthy within 180 s; see ${logFile}`);
}

/** Chromium with a fresh profile; downloads allowed. */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const close = async () => {
    await context.close().catch(() => undefined);
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

/** Chromium as a browser that makes fresh contexts (other visitors, phone and tablet viewports). */
export async function launchChromiumBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** Sequential tests: after a failure, the steps that depend on it are reported as failed too. */
export class Runner {
  /** @param onFail async (testName) => void, e.g. a screenshot */
  constructor(onFail = async () => undefined) {
    this.onFail = onFail;
    this.passed = 0;
    this.failed = 0;
    this.skipped = 0;
    this.broken = null;
  }

  /** skipWhen: a RegExp; a test that throws a message matching it counts as skipped (a missing server feature). */
  async test(name, fn, { independent = false, skipWhen = null } = {}) {
    // E2E_ONLY=<regexp>: run only the matching tests (a developer's loop; they must not need the others).
    if (process.env.E2E_ONLY && !new RegExp(process.env.E2E_ONLY).test(name)) return;
    if (this.broken && !independent) {
      this.failed++;
      console.log(`✗ ${name} (not run: "${this.broken}" failed)`);
      return;
    }
    const t0 = Date.now();
    try {
      await fn();
      this.passed++;
      console.log(`✓ ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (err) {
      if (skipWhen && skipWhen.test(String(err?.message ?? err))) {
        this.skip(name, String(err.message).replace(skipWhen, ''));
        return;
      }
      this.failed++;
      if (!independent) this.broken = name;
      await this.onFail(name).catch(() => undefined);
      console.log(`✗ ${name}\n    ${String(err && err.stack ? err.stack : err).split('\n').slice(0, 6).join('\n    ')}`);
    }
  }

  skip(name, reason) {
    this.skipped++;
    console.log(`- ${name} (skipped: ${reason})`);
  }

  summary() {
    return `e2e: ${this.passed} passed, ${this.failed} failed, ${this.skipped} skipped`;
  }
}

/**
 * Start a suite: a Runner that screenshots the current page when a test fails, an empty
 * artifacts folder and a built UI. When the run cannot happen here, prints the suite as
 * skipped and exits.
 * @param title the suite's name in the skip line
 * @param artifacts folder for screenshots and logs
 * @param currentPage () => the page to screenshot, or null
 */
export function startSuite(title, artifacts, currentPage) {
  const runner = new Runner(async (name) => {
    const page = currentPage();
    if (page) await page.screenshot({ path: path.join(artifacts, `FAILED-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`) });
  });
  const reason = missingPrerequisite();
  if (reason) {
    runner.skip(title, reason);
    console.log(runner.summary());
    process.exit(0);
  }
  ensureBuilt();
  fs.rmSync(artifacts, { recursive: true, force: true });
  fs.mkdirSync(artifacts, { recursive: true });
  return runner;
}

/** Errors a page logs to its console (or throws), collected from every page watched. */
export class ConsoleErrors {
  constructor() {
    this.errors = [];
  }

  /** Collect `page`'s errors; `who` prefixes them when several pages are watched. */
  watch(page, who = null) {
    const note = (text) => this.errors.push(who ? `${who}: ${text}` : text);
    page.on('console', (m) => {
      if (m.type() === 'error') note(m.text());
    });
    page.on('pageerror', (e) => note(String(e)));
  }

  /** The suite's last test: no console errors, but those matching `expected` (requests a test meant to be refused). */
  test(runner, expected = null) {
    return runner.test('no errors in the browser console', async () => {
      const relevant = this.errors.filter((e) => !expected?.test(e));
      assert(relevant.length === 0, `console errors:\n${relevant.join('\n')}`);
    }, { independent: true });
  }
}

/** Print where the screenshots are and the summary line; exit 1 if a test failed. */
export function endSuite(runner, artifacts) {
  console.log(`screenshots: ${path.relative(FRONTEND_DIR, artifacts)}/`);
  console.log(runner.summary());
  process.exit(runner.failed > 0 ? 1 : 0);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/**
 * The page steps the suites share, on `page` (each also takes another page as its last argument):
 * buttons by name, a normalised point of the video as page coordinates, waiting for the
 * prompts to settle, moving to a frame, opening the page on a clip and running Track to its end.
 */
export function pageSteps(page) {
  const button = (name, p = page) => p.getByRole('button', { name, exact: true });
  const enabledTrack = (p = page) => button('Track objects', p).and(p.locator(':enabled'));
  /** Page coordinates of the normalised point (x, y) of the video. */
  const at = async (x, y, p = page) => {
    const box = await p.getByLabel('Video canvas', { exact: true }).boundingBox();
    return { x: box.x + x * box.width, y: box.y + y * box.height };
  };
  /** Every prompt sent has its answer (no "Segmenting…"). */
  const idle = (p = page, timeout = 60_000) => p.waitForFunction(() => !document.querySelector('.pending'), null, { timeout });
  /** Click the normalised point (x, y) of the video and wait for its answer. */
  const clickAt = async (x, y, p = page) => {
    const q = await at(x, y, p);
    await p.mouse.click(q.x, q.y);
    await idle(p);
  };
  /**
   * Move to `frame` with the slider; `drawn`: also wait until the video shows it (else until
   * the frame counter says it).
   */
  const goToFrame = async (frame, { drawn = false } = {}, p = page) => {
    await p.getByRole('slider', { name: 'Frame' }).evaluate((el, f) => {
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
      setter.call(el, String(f));
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }, frame);
    await p.waitForFunction(
      ([f, d]) => (d ? document.querySelector('canvas.stage-gl')?.dataset.drawnFrame : document.querySelector('output[aria-label="Current frame"]')?.textContent) === String(f),
      [frame, drawn],
    );
  };
  /** The page's video is ready to prompt and track (after a load, a reload or a switch). */
  const ready = async (p = page) => {
    await enabledTrack(p).waitFor({ timeout: 60_000 });
    await p.waitForFunction(() => document.querySelector('video')?.readyState >= 2);
  };
  /** Open the page at `url` on its default clip, ready to prompt. */
  const openClip = async (url, p = page) => {
    await p.goto(url);
    await ready(p);
  };
  /** Wait for the tracking run to end (every frame arrives a moment before); asserts it is done, returns its line. */
  const waitTrackingDone = async (timeout = 240_000, p = page) => {
    await p.waitForFunction(() => /done|failed|cancelled/.test(document.querySelector('.tracking-detail')?.textContent ?? ''), null, { timeout, polling: 200 });
    const detail = await p.locator('.tracking-detail').textContent();
    assert(/done/.test(detail), `tracking did not finish cleanly: ${detail}`);
    return detail;
  };
  /** Press Track and wait for the run to end. */
  const track = async (timeout = 240_000, p = page) => {
    await button('Track objects', p).click();
    return waitTrackingDone(timeout, p);
  };
  return { button, enabledTrack, at, idle, clickAt, goToFrame, ready, openClip, waitTrackingDone, track };
}
