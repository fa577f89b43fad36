// Runs every end-to-end suite in turn, each in its own Node process, and fails at the end if
// any failed: one suite's failure (a timing test on a loaded machine, say) must not hide the
// results of the suites after it. `E2E_ONLY` still filters tests inside each suite.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const suites = ['run.mjs', 'trust.mjs', 'segment_everything.mjs', 'work.mjs', 'annotate.mjs', 'camera.mjs'];
const failed = [];
for (const suite of suites) {
  const result = spawnSync(process.execPath, [path.join(here, suite)], { stdio: 'inherit' });
  if (result.status !== 0) failed.push(`${suite} (exit ${result.status ?? result.signal})`);
}
if (failed.length) {
  console.error(`e2e suites that failed: ${failed.join(', ')}`);
  process.exit(1);
}
