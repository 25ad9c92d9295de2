// `npm start` runs compiled JavaScript; this builds it first when dist/ is missing or older
// than the sources, so a fresh clone starts with one command.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => (name === 'generated' ? max : Math.max(max, newest(join(path, name)))), 0);
}

const built = existsSync('dist/main.js') ? statSync('dist/main.js').mtimeMs : 0;
const sources = Math.max(newest('src'), newest('prisma/schema.prisma'), newest('package-lock.json'));
if (built < sources) {
  console.log('Building (dist/ is missing or older than src/)...');
  execSync('npm run build', { stdio: 'inherit' });
}
