import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { inject } from 'vitest';

/**
 * The app as the tests that run it in a child process of its own start it (the crash, shutdown
 * and embedded tests): `src/` compiled once per run into plain JavaScript, so that each child
 * starts on plain `node` instead of compiling the sources again through tsx's loader (measured:
 * importing the app took 3.5 s of CPU through tsx, 1.6 s compiled; the run starts five children).
 *
 * Each file is compiled on its own (esbuild, as tsx does; no bundling): the layout is src/'s,
 * one level below a directory that links the repository's node_modules, locales and prisma, so
 * the app finds its packages, texts and migrations where it does from src/ or dist/.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** The compiled app's main.js of this run (test/support/global-setup.ts); '' when there is none. */
    childAppMain: string;
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LINKED = ['node_modules', 'locales', 'prisma'];

async function compile(dir: string): Promise<void> {
  const src = join(ROOT, 'src');
  const entryPoints = (await readdir(src, { recursive: true })).filter((file) => file.endsWith('.ts')).map((file) => join(src, file));
  await build({ entryPoints, outdir: join(dir, 'app'), outbase: src, format: 'esm', platform: 'node', target: 'node20', logLevel: 'error' });
}

/**
 * Compiles src/ into a temporary directory. `rebuild` compiles it again (watch mode reruns
 * tests after a change: global setup does not run again, so it calls this); `remove` deletes it.
 */
export async function buildChildApp(): Promise<{ main: string; rebuild: () => Promise<void>; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'loyalty-child-app-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    await compile(dir);
    for (const name of LINKED) await symlink(join(ROOT, name), join(dir, name));
  } catch (error) {
    await remove();
    throw error;
  }
  const rebuild = async () => {
    await rm(join(dir, 'app'), { recursive: true, force: true });
    await compile(dir);
  };
  return { main: join(dir, 'app', 'main.js'), rebuild, remove };
}

/** The arguments for `spawn(process.execPath, ...)` that start the app (src/main.ts, compiled). */
export function childAppArgs(): string[] {
  const main = inject('childAppMain');
  if (!main) throw new Error("no compiled app: the services project's global setup builds it (test/support/global-setup.ts)");
  return [main];
}
