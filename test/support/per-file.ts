import { afterAll } from 'vitest';
import { beginFileQueues, removeQueueKeys } from './queue-prefix.js';

// Runs before every db and e2e file, also when a worker process runs several files with shared
// modules: the file's queues live under a prefix of their own, removed once the file has
// finished (queued work survives an app restart within a file; tests rely on that).
const prefix = beginFileQueues();
afterAll(() => removeQueueKeys(prefix));
