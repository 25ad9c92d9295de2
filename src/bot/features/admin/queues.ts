import type { BotDeps } from '../../context.js';
import { describeOutcome } from '../../job-outcome.js';
import { guard } from '../../replies.js';
import type { AdminComposers, AdminKit } from './kit.js';

export function queuesCommand({ privateChats }: AdminComposers, { adminOnly }: AdminKit, deps: BotDeps): void {
  // The operator view: queue depth, failures kept for inspection, last run of each job.
  privateChats.command(
    'queues',
    guard(async (ctx) => {
      await adminOnly(ctx);
      const status = await deps.operations.status();
      const lines = [ctx.t('admin.queues_title')];
      for (const q of status.queues) lines.push(ctx.t('admin.queue_line', { ...q }));
      lines.push('', ctx.t('admin.runs_title'));
      if (status.lastRuns.length === 0) lines.push(ctx.t('admin.runs_empty'));
      for (const run of status.lastRuns) {
        const when = ctx.fmt.dateTime(run.finishedAt ?? run.startedAt);
        if (run.error) lines.push(ctx.t('admin.run_failed', { name: run.name, when, error: run.error.slice(0, 200) }));
        else if (!run.finishedAt) lines.push(ctx.t('admin.run_running', { name: run.name, when }));
        else lines.push(ctx.t('admin.run_ok', { name: run.name, when, outcome: describeOutcome(ctx.t, ctx.fmt, run.outcome) }));
      }
      if (status.failed.length > 0) {
        lines.push('', ctx.t('admin.failed_title'));
        for (const job of status.failed) lines.push(ctx.t('admin.failed_line', { queue: job.queue, name: job.name, reason: job.reason }));
      }
      await ctx.reply(lines.join('\n'), { parse_mode: 'HTML' });
    }),
  );
}
