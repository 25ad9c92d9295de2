import v8 from 'node:v8';

/**
 * The process-wide V8 settings of the entry points (main.ts, worker.ts). Call before the first
 * query; never from a library path (the tests load those, and open PGlite too).
 *
 * With PostgreSQL (not PGlite, whose whole database is WebAssembly and wants the optimising
 * compiler), WebAssembly stays on V8's baseline compiler (Liftoff). Prisma's query compiler is a
 * 3.4 MB WebAssembly module; optimising it on the first queries took about 35 MiB that the
 * process kept for good (compiler memory glibc does not give back), with no measurable
 * difference in CPU per query (the compiled plans are cached).
 *
 * Between two full collections, V8's old generation may grow by half of what was live after the
 * last one, instead of up to 4x (its own choice on a machine with plenty of memory, when full
 * collections are cheap). Under the till API's load (issue 12, `npm run bench -- till-api`) the
 * live heap stayed at ~59 MB, yet V8 let the old generation reach ~235 MB before collecting: the
 * process's RSS sawed between ~210 and 330-360 MiB. With this setting it peaked at 204 MiB, for
 * the same CPU per purchase and throughput (0.72 against 0.71 ms per purchase, 805 against 803
 * purchases/s, same run), and the Balance bench's CPU per update did not rise. A full collection
 * of this heap takes 5-10 ms, mostly off the main thread.
 */
export function setEntryPointV8Flags(database: { postgres: boolean }): void {
  if (database.postgres) v8.setFlagsFromString('--liftoff-only');
  v8.setFlagsFromString('--heap-growing-percent=50');
}
