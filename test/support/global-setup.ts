import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { connectPostgres } from '../../src/db/client.js';
import { buildChildApp } from './child-app.js';
import { admin, dropRunDatabases, UNFLUSHED_COMMITS, waitForNoConnections, withDatabase } from './db.js';
import { TEST_DATABASE_URL } from './env.js';

const SERVICE_PROJECTS = ['services'];

/**
 * Migrates one template database per run; test files copy it (test/support/db.ts) instead of
 * each running every migration. The name is unique per run: other runs share the server.
 * Also compiles the app once for the tests that run it as a child process (child-app.ts).
 * A run of the unit project alone (`vitest --project unit`) needs neither: none is made.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!project.vitest.projects.some((p) => SERVICE_PROJECTS.includes(p.name))) return undefined;
  const childApp = await buildChildApp();
  project.provide('childAppMain', childApp.main);
  project.onTestsRerun(() => childApp.rebuild());
  const name = `loyalty_template_${process.pid}_${randomBytes(4).toString('hex')}`;
  try {
    await admin(async (client) => {
      await client.query(`CREATE DATABASE "${name}"`);
      await client.query(UNFLUSHED_COMMITS(name));
    });
  } catch (error) {
    await childApp.remove();
    throw error;
  }
  const drop = async () => {
    await childApp.remove();
    await dropRunDatabases(name);
    await admin(async (client) => {
      await waitForNoConnections(client, name);
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    });
  };
  try {
    const db = connectPostgres(withDatabase(TEST_DATABASE_URL, name), 1);
    try {
      await db.migrate();
    } finally {
      await db.close();
    }
    await admin(async (client) => {
      // A template must have no sessions while it is copied: wait for ours to be gone, then
      // refuse new ones, so that nothing can connect to it by mistake and break the copies.
      await waitForNoConnections(client, name);
      await client.query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS false`);
    });
  } catch (error) {
    await drop();
    throw error;
  }
  project.provide('templateDatabase', name);
  return drop;
}
