import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { DomainError } from '../../src/domain/errors.js';
import { Prisma } from '../../src/generated/prisma/client.js';

const known = (code: string, meta?: Record<string, unknown>) => new Prisma.PrismaClientKnownRequestError('failed', { code, clientVersion: 'test', meta });
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, syscall: 'connect', errno: -111 });

describe('isDatabaseUnavailable', () => {
  it('recognises the ways the drivers say the database is down or went away', () => {
    // As seen from Prisma with @prisma/adapter-pg: refused, raw query refused, dropped mid-query.
    expect(isDatabaseUnavailable(known('P1001'))).toBe(true);
    expect(isDatabaseUnavailable(known('P2010', { driverAdapterError: { cause: { kind: 'DatabaseNotReachable' } } }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(known('P1017'))).toBe(true);
    expect(isDatabaseUnavailable(known('P2024'))).toBe(true);
    expect(isDatabaseUnavailable(socketError('ECONNREFUSED'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('query failed', { cause: socketError('ECONNRESET') }))).toBe(true);
    // The administrator shut the server down (SQLSTATE 57P01), as the adapter reports it.
    expect(isDatabaseUnavailable(known('P2010', { driverAdapterError: { cause: { kind: 'postgres', code: '57P01' } } }))).toBe(true);
    expect(isDatabaseUnavailable(new Prisma.PrismaClientInitializationError("Can't reach database server", 'test'))).toBe(true);
  });

  it('leaves refusals and bugs alone', () => {
    expect(isDatabaseUnavailable(known('P2002'))).toBe(false);
    expect(isDatabaseUnavailable(known('P2010', { driverAdapterError: { cause: { kind: 'postgres', code: '23514' } } }))).toBe(false);
    expect(isDatabaseUnavailable(new DomainError('INSUFFICIENT_POINTS'))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('Cannot read properties of undefined'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});
