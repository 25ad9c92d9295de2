import { keyedFingerprints } from '../../src/domain/members/fingerprints.js';

/**
 * Where the tests find their real services. The defaults match the developer and CI machines;
 * override with TEST_DATABASE_URL (any database on the server: tests create their own) and
 * TEST_REDIS_URL.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The fingerprint key of the tests' app and domain (config.ts requires one with DATABASE_URL). */
export const TEST_FINGERPRINT_SECRET = 'test-fingerprint-secret-0123456789abcdef';
export const TEST_FINGERPRINTS = keyedFingerprints(TEST_FINGERPRINT_SECRET, 730);
