// Makes sure dist/ (what `node bin/mlfp.js` runs) is built from the current sources before tests spawn the
// real CLI. Test files run in parallel workers, so the build happens once, under a lock directory.
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (this file is test/support/build-once.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const BUILT_MARKER = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const LOCK_DIR = join(REPO_ROOT, 'dist', '.e2e-build.lock');
const STALE_LOCK_MS = 10 * 60_000;
const WAIT_FOR_LOCK_MS = 5 * 60_000;

async function newestSourceMs(directory: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestSourceMs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
      newest = Math.max(newest, (await stat(path)).mtimeMs);
  }
  return newest;
}

async function isStale(): Promise<boolean> {
  const built = await stat(BUILT_MARKER).catch(() => undefined);
  if (built === undefined) return true;
  const sources = Math.max(
    await newestSourceMs(join(REPO_ROOT, 'src')),
    (await stat(join(REPO_ROOT, 'tsconfig.json'))).mtimeMs,
    (await stat(join(REPO_ROOT, 'tsconfig.build.json'))).mtimeMs,
  );
  return sources > built.mtimeMs;
}

/** Builds dist/ with tsc when any source is newer than it; concurrent callers wait for one build. */
export async function ensureBuilt(): Promise<void> {
  if (!(await isStale())) return;
  await mkdir(join(REPO_ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + WAIT_FOR_LOCK_MS;
  for (;;) {
    try {
      await mkdir(LOCK_DIR);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const lock = await stat(LOCK_DIR).catch(() => undefined);
      // a lock left behind by a killed run would block every later one
      if (lock !== undefined && Date.now() - lock.mtimeMs > STALE_LOCK_MS)
        await rm(LOCK_DIR, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${LOCK_DIR}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    // another worker may have built while we waited for the lock
    if (await isStale())
      await run(
        process.execPath,
        [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
        {
          cwd: REPO_ROOT,
          maxBuffer: 16 * 1024 * 1024,
        },
      );
  } finally {
    await rm(LOCK_DIR, { recursive: true, force: true });
  }
}
