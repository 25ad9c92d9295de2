import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';

it('never writes the bot token, even inside an error that quotes a request URL', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger('info', false, sink);
  // A made-up token, assembled so that secret scanners do not mistake the test for a leak.
  const token = ['123456789', 'AAH-abcdefghijklmnopqrstuvwxyz_012345'].join(':');
  const error = new Error(`request to https://api.telegram.org/bot${token}/getUpdates failed, reason: socket hang up`);
  logger.warn({ err: error, url: `https://api.telegram.org/bot${token}/sendMessage` }, 'getUpdates failed');
  const output = lines.join('');
  expect(output).toContain('getUpdates failed');
  expect(output).toContain('/bot<bot-token>/getUpdates');
  expect(output).not.toContain(token);
  expect(output).not.toContain('AAH-abcdefghijklmnopqrstuvwxyz_012345');
});
