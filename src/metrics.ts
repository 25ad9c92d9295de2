import type { Queue } from 'bullmq';
import { Counter, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one app instance (prom-client). Each instance has a registry of its own,
 * never prom-client's global one: tests start many apps in one process, and two apps must not
 * count into each other. Labels are bounded sets (feature names, update kinds, route templates,
 * entry types, outcomes), never ids, texts or URLs.
 */
export interface Metrics {
  registry: Registry;
  updates: Counter<'feature' | 'outcome'>;
  updateSeconds: Histogram<'feature'>;
  apiRequests: Counter<'method' | 'route' | 'status'>;
  apiSeconds: Histogram<'method' | 'route'>;
  ledgerPosts: Counter<'type'>;
  deliveries: Counter<'queue' | 'outcome'>;
  /** The exposition text: the registry plus BullMQ's own export of each queue, read now. */
  scrape(queues: Queue[]): Promise<string>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const updates = new Counter({
    name: 'loyalty_bot_updates_total',
    help: 'Telegram updates handled, by feature (or update kind) and outcome (ok, error)',
    labelNames: ['feature', 'outcome'] as const,
    registers,
  });
  const updateSeconds = new Histogram({
    name: 'loyalty_bot_update_duration_seconds',
    help: 'Time to handle a Telegram update, by feature (or update kind)',
    labelNames: ['feature'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const apiRequests = new Counter({
    name: 'loyalty_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
  });
  const apiSeconds = new Histogram({
    name: 'loyalty_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const ledgerPosts = new Counter({
    name: 'loyalty_ledger_posts_total',
    help: 'Ledger entries posted (committed; replays not counted), by entry type',
    labelNames: ['type'] as const,
    registers,
  });
  const deliveries = new Counter({
    name: 'loyalty_deliveries_total',
    help: 'Queued messages by outcome: sent, rate_limited (Telegram 429), blocked (403), failed',
    labelNames: ['queue', 'outcome'] as const,
    registers,
  });

  async function scrape(queues: Queue[]): Promise<string> {
    const own = await registry.metrics();
    // BullMQ exports each queue with its own HELP/TYPE lines: one family each in the output.
    const families = new Map<string, { header: string[]; samples: string[] }>();
    for (const text of await Promise.all(queues.map((queue) => queue.exportPrometheusMetrics()))) {
      for (const line of text.split('\n')) {
        const header = /^# (HELP|TYPE) (\S+)/.exec(line);
        const name = header ? (header[2] as string) : (/^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1] ?? null);
        if (!name) continue;
        const family = families.get(name) ?? { header: [], samples: [] };
        families.set(name, family);
        if (header) {
          if (family.header.length < 2 && !family.header.includes(line)) family.header.push(line);
        } else family.samples.push(line);
      }
    }
    const bull = [...families.values()].map((family) => [...family.header, ...family.samples].join('\n')).join('\n');
    return bull ? `${own}\n${bull}\n` : own;
  }

  return { registry, updates, updateSeconds, apiRequests, apiSeconds, ledgerPosts, deliveries, scrape };
}
