import v8 from 'node:v8';

/**
 * For the entry points (main.ts, worker.ts): between two full collections, V8's old generation
 * may grow by half of what was live after the last one, instead of up to 4x (its own choice on a
 * machine with plenty of memory, when full collections are cheap). Under the till API's load
 * (issue 12, `npm run bench -- till-api`) the process's live heap stayed at ~59 MB, yet V8 let
 * the old generation reach ~235 MB before collecting: the process's RSS sawed between ~210 and
 * 330-360 MiB. With this setting it peaked at 204 MiB, for the same CPU per purchase and
 * throughput (0.72 against 0.71 ms per purchase, 805 against 803 purchases/s, same run), and the
 * Balance bench's CPU per update did not rise. A full collection of this heap takes 5-10 ms,
 * mostly off the main thread. Process-wide, so never from a library path (tests load those).
 */
export function limitHeapGrowth(): void {
  v8.setFlagsFromString('--heap-growing-percent=50');
}
