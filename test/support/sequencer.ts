import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The services project first, then unit; inside each, vitest's own order: the longest files
 * first (durations of earlier runs, cached under node_modules/.vite; without them, the largest
 * files). The services project holds the long files (child processes, thousands of deliveries,
 * real-time waits): they start at once and the many short files fill the workers behind them,
 * with the unit files, short and CPU-bound, last. Vitest's own order is by project name, which
 * happens to agree today; this keeps it from depending on names. Projects stay together so
 * that a fork is handed the next file of its own project and reused (isolate: false): the pool
 * only reuses a runner for the head of its queue.
 */
const PROJECT_ORDER = ['services', 'unit'];

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
