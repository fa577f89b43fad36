#!/usr/bin/env node
// Build Meta's official SAM 2 demo frontend (facebookresearch/sam2, demo/frontend) from its own
// source, changed only in its API endpoint, so it can be run against our server
// (tools/official_frontend_e2e.mjs drives it in Chromium).
//
// This repository holds none of Meta's code: the caller fetches the repository
// (`git clone https://github.com/facebookresearch/sam2`, or a bare mirror) and passes its path;
// the folder is extracted, installed and built under the ignored `.official-frontend/`.
//
//   node tools/official_frontend.mjs --repo PATH/TO/sam2 --pts-canvas-repo PATH/TO/react-pts-canvas
//        [--endpoint http://localhost:7263] [--commit SHA] [--out .official-frontend]
//
// --repo: a clone (or bare mirror) of https://github.com/facebookresearch/sam2;
// --pts-canvas-repo: of https://github.com/williamngan/react-pts-canvas (0.5.2 is built from it,
// see SUBSTITUTES; needed once, until the packed tarball exists).
//
// What is changed, and nothing else:
// - src/demo/DemoConfig.tsx: the values of VIDEO_API_ENDPOINT and INFERENCE_API_ENDPOINT
//   (the page builds every URL from these two constants: `${endpoint}/graphql`,
//   `${endpoint}/propagate_in_video`; the settings dialog starts from them too).
// - package.json: the dependencies pinned to the versions its yarn.lock resolved (npm, not yarn,
//   installs them), but three the npm registry here lacks (SUBSTITUTES below; printed and recorded
//   in build-info.json).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// The commit whose sam2/ package is byte-identical to the PyPI release sam2==1.1.0
// (2024-12-21): "remove `.pin_memory()` in `obj_pos` of `SAM2Base`..." (#495).
export const SAM2_1_1_0_COMMIT = '2b90b9f5ceec907a1c18123530e92e794ad901a4';

// yarn.lock pins these; the npm registry we can reach lacks those versions.
// pts: 0.12.9, the next patch release, within the declared range ^0.12.8.
// vite-plugin-stylex-dev: 0.7.5, the nearest release built on @stylexjs/babel-plugin 0.6, the
//   compiler that matches the page's runtime @stylexjs/stylex 0.6.1 (0.4.1 uses 0.5).
// react-pts-canvas: the newest on the registry, 0.4.0, does not do: the filmstrip calls
//   getSpace()/getForm()/getCanvas() on the handle that 0.5 added (PtsCanvasImperative), so 0.4.0
//   fails to type-check and would throw at run time. 0.5.2 itself is built from its source (the
//   commit of its "0.5.2" release), the way its own vite config does (one ES module, react
//   external, pts bundled), with its declarations from tsc, and installed as a packed tarball.
export const SUBSTITUTES = {
  pts: { pinned: '0.12.8', used: '0.12.9' },
  'react-pts-canvas': { pinned: '0.5.2', used: '0.5.2, built from its source (williamngan/react-pts-canvas@4a34c23)' },
  'vite-plugin-stylex-dev': { pinned: '0.5.2', used: '0.7.5' },
};
const PTS_CANVAS_COMMIT = '4a34c2327c2041011ab75de5d8f4d1811b574dc7'; // "0.5.2"
const PTS_CANVAS_TARBALL = 'react-pts-canvas-0.5.2.tgz';

function parseArgs(argv) {
  const args = {
    repo: null,
    'pts-canvas-repo': null,
    commit: SAM2_1_1_0_COMMIT,
    endpoint: 'http://localhost:7263',
    out: path.join(REPO_ROOT, '.official-frontend'),
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (key === 'help' || key === 'h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0]);
      process.exit(0);
    }
    if (!(key in args)) throw new Error(`unknown option ${argv[i]} (see --help)`);
    args[key] = argv[++i];
  }
  if (!args.repo) throw new Error('--repo PATH (a clone of facebookresearch/sam2) is required');
  if (!/^https?:\/\/[^/]+$/.test(args.endpoint)) throw new Error(`--endpoint ${args.endpoint}: expected an origin like http://localhost:7263`);
  args.out = path.resolve(args.out);
  return args;
}

function run(cmd, argv, opts = {}) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv[0]} failed (${r.status ?? r.signal})`);
}

function gitDir(repo) {
  // A clone's work tree or its .git, or a bare repository.
  const r = spawnSync('git', ['-C', repo, 'rev-parse', '--absolute-git-dir'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${repo} is not a git repository: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Extract demo/frontend at `commit` into `dir` (kept, with its node_modules, when already that commit). */
function extract(git, commit, dir) {
  const marker = path.join(dir, '.extracted-commit');
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === commit) {
    console.log(`demo/frontend at ${commit.slice(0, 12)} already extracted in ${dir}`);
    return;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const tar = spawnSync('git', ['--git-dir', git, 'archive', '--format=tar', `${commit}:demo/frontend`], {
    maxBuffer: 1 << 30,
  });
  if (tar.status !== 0) throw new Error(`git archive ${commit}:demo/frontend failed: ${tar.stderr}`);
  const x = spawnSync('tar', ['-x', '-C', dir], { input: tar.stdout });
  if (x.status !== 0) throw new Error(`tar -x failed: ${x.stderr}`);
  // npm rewrites a yarn.lock it finds; the versions are read from this copy of the original.
  fs.copyFileSync(path.join(dir, 'yarn.lock'), path.join(dir, 'yarn.lock.orig'));
  fs.writeFileSync(marker, `${commit}\n`);
  console.log(`extracted demo/frontend at ${commit.slice(0, 12)} into ${dir}`);
}

/** name@range -> version, from a yarn v1 lock file. */
function yarnLockVersions(text) {
  const out = new Map();
  let keys = null;
  for (const line of text.split('\n')) {
    if (/^\S.*:$/.test(line)) {
      keys = line.slice(0, -1).split(', ').map((k) => k.replace(/^"|"$/g, ''));
    } else if (keys && /^ {2}version "/.test(line)) {
      const version = line.match(/"(.*)"/)[1];
      for (const k of keys) out.set(k, version);
      keys = null;
    }
  }
  return out;
}

/** Pin package.json's direct dependencies to yarn.lock's versions, substitutes where npm lacks them. */
function pinDependencies(dir, ptsCanvasSpec) {
  const pkgFile = path.join(dir, 'package.json');
  const original = path.join(dir, 'package.json.orig');
  if (!fs.existsSync(original)) fs.copyFileSync(pkgFile, original);
  const pkg = JSON.parse(fs.readFileSync(original, 'utf8'));
  const locked = yarnLockVersions(fs.readFileSync(path.join(dir, 'yarn.lock.orig'), 'utf8'));
  for (const field of ['dependencies', 'devDependencies']) {
    for (const [name, range] of Object.entries(pkg[field] ?? {})) {
      const version = name === 'react-pts-canvas' ? ptsCanvasSpec : SUBSTITUTES[name]?.used ?? locked.get(`${name}@${range}`);
      if (version) pkg[field][name] = version;
    }
  }
  // yarn's "resolutions" in npm's words.
  pkg.overrides = { ...(pkg.resolutions ?? {}) };
  fs.writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
}

/**
 * react-pts-canvas 0.5.2 from its source, packed into `tarball`. Uses the page's own toolchain
 * (esbuild from its vite, its typescript and type packages), so it runs after a first install.
 */
function buildPtsCanvas(git, dir, tarball) {
  const work = path.join(dir, '.react-pts-canvas'); // inside the page's folder: its node_modules resolve
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const tar = spawnSync('git', ['--git-dir', git, 'archive', '--format=tar', PTS_CANVAS_COMMIT, 'lib', 'package.json', 'LICENSE', 'README.md'], {
    maxBuffer: 1 << 28,
  });
  if (tar.status !== 0) throw new Error(`git archive ${PTS_CANVAS_COMMIT} (react-pts-canvas) failed: ${tar.stderr}`);
  const x = spawnSync('tar', ['-x', '-C', work], { input: tar.stdout });
  if (x.status !== 0) throw new Error(`tar -x failed: ${x.stderr}`);
  const bin = (name) => path.join(dir, 'node_modules', '.bin', name);
  run(bin('esbuild'), ['lib/main.tsx', '--bundle', '--format=esm', '--jsx=automatic', '--target=es2020',
    '--external:react', '--external:react-dom', '--external:react/jsx-runtime', '--outfile=dist/main.js'], { cwd: work });
  fs.writeFileSync(path.join(work, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2020', module: 'ESNext', moduleResolution: 'bundler', jsx: 'react-jsx', strict: true,
      skipLibCheck: true, declaration: true, emitDeclarationOnly: true, outDir: 'dist' },
    include: ['lib'],
  }));
  run(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: work });
  run('npm', ['pack', '--pack-destination', path.dirname(tarball), '--loglevel=error'], { cwd: work });
  fs.rmSync(work, { recursive: true, force: true });
  if (!fs.existsSync(tarball)) throw new Error(`npm pack did not write ${tarball}`);
}

/** npm install when package.json changed since the last install. */
function install(dir) {
  const stamp = path.join(dir, 'node_modules', '.installed-package.json');
  const pkgText = fs.readFileSync(path.join(dir, 'package.json'), 'utf8');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === pkgText) return;
  // --legacy-peer-deps: yarn only warns about peer ranges, npm refuses them (the 0.4.0 placeholder
  // of react-pts-canvas wants pts ^0.11).
  run('npm', ['install', '--no-audit', '--no-fund', '--legacy-peer-deps', '--loglevel=error'], { cwd: dir });
  fs.writeFileSync(stamp, pkgText);
}

/** Point the page at `endpoint`: the two constants' values, nothing else. */
function setEndpoint(dir, endpoint) {
  const file = path.join(dir, 'src', 'demo', 'DemoConfig.tsx');
  const text = fs.readFileSync(file, 'utf8');
  let n = 0;
  const next = text.replace(
    /^(export const (?:VIDEO|INFERENCE)_API_ENDPOINT = )'[^']*';$/gm,
    (_, head) => (n++, `${head}'${endpoint}';`),
  );
  if (n !== 2) throw new Error(`expected 2 endpoint constants in ${file}, found ${n}`);
  fs.writeFileSync(file, next);
  console.log(`API endpoint: ${endpoint} (src/demo/DemoConfig.tsx)`);
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = path.join(args.out, 'frontend');
  extract(gitDir(args.repo), args.commit, dir);
  console.log('substituted versions (the npm registry lacks the pinned ones):');
  for (const [name, sub] of Object.entries(SUBSTITUTES)) console.log(`  ${name} ${sub.pinned} -> ${sub.used}`);
  const tarball = path.join(args.out, PTS_CANVAS_TARBALL);
  if (!fs.existsSync(tarball)) {
    if (!args['pts-canvas-repo']) throw new Error('--pts-canvas-repo PATH (a clone of williamngan/react-pts-canvas) is required');
    pinDependencies(dir, '0.4.0'); // a placeholder until the toolchain to build 0.5.2 is installed
    install(dir);
    buildPtsCanvas(gitDir(args['pts-canvas-repo']), dir, tarball);
  }
  pinDependencies(dir, `file:${path.relative(dir, tarball)}`);
  install(dir);
  setEndpoint(dir, args.endpoint);
  run('npm', ['run', 'build'], { cwd: dir }); // its own script: tsc && vite build
  const info = {
    commit: args.commit,
    endpoint: args.endpoint,
    substitutes: SUBSTITUTES,
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(args.out, 'build-info.json'), `${JSON.stringify(info, null, 2)}\n`);
  console.log(`built: ${path.join(dir, 'dist')} (endpoint ${args.endpoint})`);
}

try {
  main();
} catch (e) {
  console.error(`official_frontend: ${e.message}`);
  process.exit(1);
}
