import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/logger.js';

export interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/**
 * The app's own logger (with its scrubbing of secrets) writing into memory: tests read what an
 * operator would read. `text()` is every line as written, for "never logs X" assertions.
 */
export function capturedLogs(level = 'warn'): { logger: Logger; records: LogRecord[]; text: () => string } {
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        lines.push(line);
        records.push(JSON.parse(line));
      }
      done();
    },
  });
  return { logger: createLogger(level, false, sink), records, text: () => lines.join('\n') };
}
