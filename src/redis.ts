import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Redis for the process: the configured one, or a private `redis-server` started for this
 * process when none is configured (the machine's binary when there is one on PATH, otherwise
 * redis-memory-server builds one on first use).
 */
export interface RedisHandle {
  url: string;
  embedded: boolean;
  /** A connection for producers (fails fast when Redis is down) or workers (retries forever). */
  connect(role: RedisRole): Redis;
  stop(): Promise<void>;
}

function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export type RedisRole = 'producer' | 'worker' | 'probe' | 'limiter';

const roleOptions: Record<RedisRole, RedisOptions> = {
  // See BullMQ's guide: producers should fail fast, workers must never give up.
  producer: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
  // The per-user limiter sits in front of every update, the till API's limiters in front of
  // every request: it answers quickly or not at all (the caller then lets the update or request
  // through), and batches the commands of concurrent updates into one write (auto-pipelining).
  limiter: { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 500, enableAutoPipelining: true },
  worker: { maxRetriesPerRequest: null },
  probe: { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true },
};

export async function startRedis(redisUrl: string | undefined, logger: Logger): Promise<RedisHandle> {
  const connections = new Set<Redis>();
  let url = redisUrl;
  let stopServer = async () => {};
  if (!url) {
    const { RedisMemoryServer } = await import('redis-memory-server');
    const systemBinary = findOnPath('redis-server');
    const server = await RedisMemoryServer.create(systemBinary ? { binary: { systemBinary } } : {});
    url = `redis://${await server.getHost()}:${await server.getPort()}`;
    stopServer = async () => void (await server.stop());
    logger.info({ binary: systemBinary ?? 'redis-memory-server' }, 'started an embedded Redis for this process');
  }
  const resolvedUrl = url;
  return {
    url: resolvedUrl,
    embedded: !redisUrl,
    connect(role) {
      const connection = new Redis(resolvedUrl, roleOptions[role]);
      connection.on('error', (error) => logger.warn({ err: error, role }, 'redis connection error'));
      connection.on('end', () => connections.delete(connection));
      connections.add(connection);
      return connection;
    },
    async stop() {
      await Promise.all([...connections].map((connection) => connection.quit().catch(() => connection.disconnect())));
      await stopServer();
    },
  };
}
