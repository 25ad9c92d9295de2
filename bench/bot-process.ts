// The bot as production runs it: the real entry point compiled (`npm start` runs dist/main.js
// under plain node, so tsx's loader neither costs CPU nor shows in the RSS), in a process of its
// own, so that the load driver and the fake Bot API in the benchmark's process neither slow it
// down nor share its CPU figures. Configured through the environment only, like a deployment.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { BenchFailure, processCpuMs, processRssBytes } from './lib.js';

export interface BotProcess {
  pid: number;
  /** User + system CPU of the bot process so far, in milliseconds (from /proc). */
  cpuMs(): number;
  /** Resident memory of the bot process now, in bytes (from /proc). */
  rssBytes(): number;
  /** SIGTERM, and wait for the graceful shutdown. */
  stop(): Promise<void>;
}

/** A stable secret for the benches' processes (production requires one with DATABASE_URL). */
const BENCH_FINGERPRINT_SECRET = 'bench-fingerprint-secret-0123456789abcdef';

let built = false;
/** Builds dist/ when it is missing or older than src/ (once per run), as `npm start` does. */
function ensureBuild(): void {
  if (built) return;
  execFileSync(process.execPath, ['scripts/ensure-build.mjs'], { stdio: 'inherit' });
  built = true;
}

/**
 * Starts `script` with `env` on top of this process's PATH; resolves once `ready()` holds. The
 * default, the real entry point, runs compiled (dist/main.js) as `npm start` runs it; other
 * scripts (the benches' own baselines in bench/) run through tsx.
 */
export async function startBotProcess(env: Record<string, string>, ready: () => boolean, timeoutMs = 60_000, script?: string): Promise<BotProcess> {
  let args: string[];
  if (script === undefined) {
    ensureBuild();
    // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the bot process, written there when it stops.
    args = [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), 'dist/main.js'];
  } else {
    args = ['--import', 'tsx', script];
  }
  const child = spawn(process.execPath, args, {
    // MALLOC_ARENA_MAX as `npm start` and the Dockerfile set it.
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      MALLOC_ARENA_MAX: '2',
      LOG_LEVEL: 'warn',
      FINGERPRINT_SECRET: BENCH_FINGERPRINT_SECRET,
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (child.exitCode !== null) throw new BenchFailure(`the bot process exited with code ${child.exitCode} before it was ready`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new BenchFailure(`the bot process was not ready within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const pid = child.pid as number;
  return {
    pid,
    cpuMs: () => processCpuMs(pid),
    rssBytes: () => processRssBytes(pid),
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
