import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Vitest's own order runs the projects one after another by name (db, e2e, unit) and, inside
 * one, the longest files first (durations of earlier runs, cached under node_modules/.vite).
 * The e2e project holds the long files (child processes, thousands of deliveries), so they
 * started a minute in and ended the run alone on one worker while the others idled. Here e2e
 * goes first, then db, then unit: the long files start at once and the many short ones fill the
 * workers behind them. Projects stay together so that a fork is handed the next file of its own
 * project and reused (isolate: false): the pool only reuses a runner for the head of its queue.
 */
const PROJECT_ORDER = ['e2e', 'db', 'unit'];

const rank = (spec: TestSpecification) => {
  const index = PROJECT_ORDER.indexOf(spec.project.name);
  return index === -1 ? PROJECT_ORDER.length : index;
};

export default class LongPolesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    // Array.prototype.sort is stable: inside a project, the base order (longest first) stays.
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
