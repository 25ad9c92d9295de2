import { Composer, InputFile } from 'grammy';
import { charityCsv, charityReport, isMonth, previousMonth } from '../../../domain/charity/report.js';
import { findPrincipal } from '../../../domain/staff/access.js';
import type { BotContext, BotDeps } from '../../context.js';
import { renderCharityReport } from './report.js';

/**
 * `/charity [YYYY-MM]` for admins: a month's totals per cause (last month by default) and the
 * CSV for the transfers, as a document. The role is checked on the server; anyone else's
 * `/charity` goes on to the members' charity screen (features/charity/donate.ts).
 */
export function charityAdminFeature(deps: BotDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { domain } = deps;
  composer.chatType('private').command('charity', async (ctx, next) => {
    const principal = await findPrincipal(domain, ctx.from.id);
    if (principal?.role !== 'ADMIN') return next();
    const words = ctx.match.trim().split(/\s+/).filter(Boolean);
    const month = words[0] ?? previousMonth(domain.clock.now(), domain.program.timezone);
    if (words.length > 1 || !isMonth(month)) return ctx.reply(ctx.t('admin.usage.charity'), { parse_mode: 'HTML' });
    const report = await charityReport(domain, month);
    await ctx.reply(renderCharityReport(ctx.t, domain.program, ctx.locale, report, false), { parse_mode: 'HTML' });
    const csv = charityCsv(domain.program, report);
    await ctx.replyWithDocument(new InputFile(Buffer.from(csv, 'utf8'), `charity-${month}.csv`), { caption: ctx.t('charity.csv_caption', { month }) });
  });
  return composer;
}
