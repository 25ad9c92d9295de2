import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Program } from '../../src/domain/program.js';
import { parseProgram } from '../../src/program.js';

let exampleYaml: Record<string, unknown> | undefined;

/** The example file's YAML, read once per process; each caller gets a copy of its own to change. */
function exampleRaw(): Record<string, unknown> {
  exampleYaml ??= parse(readFileSync(new URL('../../programs/example.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
  return structuredClone(exampleYaml);
}

/** The shipped example program, parsed as at start-up: tests run the program users get. */
export function exampleProgram(overrides: (raw: Record<string, unknown>) => void = () => {}): Program {
  const raw = exampleRaw();
  // The example's tasks pay points for first purchases and complete profiles and send messages
  // about it: tests of other areas run without them; tests of tasks use `programWithTasks`.
  delete raw.tasks;
  // Broadcasts hold back a control group (10 % by default): tests of other areas count every
  // recipient; tests of experiments (broadcast-experiments.test.ts) set the share per broadcast.
  raw.broadcasts = { ...(raw.broadcasts as object | undefined), controlPercent: 0 };
  overrides(raw);
  return parseProgram(raw, 'programs/example.yaml');
}

/** The shipped example program with its `tasks` section (badges, referrals, leaderboard, tasks). */
export function programWithTasks(overrides: (raw: Record<string, unknown>) => void = () => {}): Program {
  const raw = exampleRaw();
  overrides(raw);
  return parseProgram(raw, 'programs/example.yaml');
}
