/**
 * Where the tests find their real services. The defaults match the developer and CI machines;
 * override with TEST_DATABASE_URL (any database on the server: tests create their own) and
 * TEST_REDIS_URL.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
