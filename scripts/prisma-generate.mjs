// Runs `prisma generate`. Generate never executes Prisma's schema engine, but the CLI wants to
// find one; where it cannot be downloaded (offline machines, CI) any existing file will do.
import { spawnSync } from 'node:child_process';

const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
const result = spawnSync(process.execPath, ['node_modules/prisma/build/index.js', 'generate'], { stdio: ['ignore', 'pipe', 'inherit'], env });
if (result.status !== 0) {
  process.stdout.write(result.stdout);
  process.exit(result.status ?? 1);
}
