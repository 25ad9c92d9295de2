import type { Middleware } from 'grammy';
import { describe, expect, it } from 'vitest';
import type { BotContext } from '../../src/bot/context.js';
import { Routes, STAGES, type Stage } from '../../src/bot/routing.js';

const update = () => ({ update: { update_id: 1 } }) as unknown as BotContext;

describe('the route table', () => {
  it('runs the stages in their fixed order, whatever order features were added in', async () => {
    const seen: string[] = [];
    const passes =
      (name: string): Middleware<BotContext> =>
      async (_ctx, next) => {
        seen.push(name);
        await next();
      };
    const routes = new Routes();
    for (const stage of [...STAGES].reverse()) routes.add(stage, passes(`${stage} 1`), passes(`${stage} 2`));
    await routes.middleware().middleware()(update(), async () => undefined);
    expect(seen).toEqual(STAGES.flatMap((stage) => [`${stage} 1`, `${stage} 2`]));
  });

  it('lets the first handler that keeps the update answer it: a later stage never sees it', async () => {
    const seen: Stage[] = [];
    const routes = new Routes();
    routes.add('fallback', () => void seen.push('fallback'));
    routes.add('customers', () => void seen.push('customers'));
    routes.add('buttons', (_ctx, next) => {
      seen.push('buttons');
      return next();
    });
    await routes.middleware().middleware()(update(), async () => undefined);
    expect(seen).toEqual(['buttons', 'customers']);
  });

  it('refuses a route added after the table was mounted', () => {
    const routes = new Routes();
    routes.middleware();
    expect(() => routes.add('fallback', () => undefined)).toThrow('after the routes were mounted');
  });
});
