import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPglite } from '../../src/db/client.js';
import { childAppArgs } from '../support/child-app.js';
import { Conversation, expectNoViolations } from '../support/conversation.js';
import { FakeBotApi } from '../support/fake-bot-api/server.js';
import { introspectDatabase, parseSchema, readSchemaFile, viaPrisma } from '../support/schema-shape.js';

/**
 * The README's first command on a machine with nothing configured but a token: the bot as its
 * own process, embedded PGlite under DATA_DIR, a private redis-server, stopped by SIGTERM. Then
 * the database it migrated there is held against schema.prisma, as test/db/schema-parity.test.ts
 * holds PostgreSQL: the migrations build the same schema on both.
 */
let fake: FakeBotApi;
let dataDir: string;
let bot: ChildProcess | undefined;
let output = '';

function startBot(): ChildProcess {
  const child = spawn(process.execPath, childAppArgs(), {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

beforeAll(async () => {
  fake = await FakeBotApi.start();
  dataDir = await mkdtemp(join(tmpdir(), 'loyalty-embedded-'));
});
afterAll(async () => {
  bot?.kill('SIGKILL');
  await fake?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('runs on embedded PGlite and Redis with only a token, and stops cleanly on SIGTERM', async () => {
  bot = startBot();
  await fake.waitFor(() => output.includes('bot started'), { timeoutMs: 60_000, what: `the bot to start; output so far:\n${output}` });
  expect(output).toContain('"database":"pglite"');
  expect(output).toContain('"redis":"embedded"');

  const user = new Conversation(fake, { id: 8001, first_name: 'Ada', language_code: 'en' });
  await user.says('/start');
  await user.taps('reg:lang:en');
  await user.taps('reg:consent:yes');
  await user.sharesContact('447911123456');
  await user.says('Ada');
  expect((await user.says('Skip')).text).toContain('You are in, Ada!');
  expect((await user.says('💰 Balance')).text).toContain('100 points');

  bot.kill('SIGTERM');
  expect(await exited(bot)).toBe(0);
  expect(output).toContain('stopped');
  // Personal data never reaches the logs.
  expect(output).not.toContain('447911123456');
  expect(output).not.toContain('Ada');
  expectNoViolations(fake);
}, 120_000);

it('left an embedded database with the schema schema.prisma declares', async () => {
  // The database the bot migrated at start-up (the test above), opened again now that it stopped.
  // Without it, opening the directory would create an empty one and the comparison below would
  // fail for the wrong reason.
  expect(existsSync(join(dataDir, 'pglite', 'PG_VERSION')), 'the bot above never created its database').toBe(true);
  const pglite = await openPglite(dataDir);
  try {
    const [declared, migrated] = await Promise.all([readSchemaFile().then(parseSchema), introspectDatabase(viaPrisma(pglite))]);
    expect(Object.keys(migrated.tables)).toEqual(expect.arrayContaining(['Member', 'LedgerEntry', 'ChatSession']));
    expect(migrated).toEqual(declared);
    // The member registered above is there: it is the bot's database, not a new one.
    expect(await pglite.prisma.member.count()).toBe(1);
  } finally {
    await pglite.close();
  }
}, 120_000);
