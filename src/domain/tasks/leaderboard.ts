import { DomainError } from '../errors.js';
import { activeMember, type MemberRef } from '../members/overview.js';
import type { DomainDeps } from '../ports.js';
import { monthBounds } from './periods.js';
import type { GameProfile, NameStyle } from './ports.js';

/**
 * The monthly leaderboard: only members who opted in, ranked by points earned this calendar
 * month (program time zone; purchases and bonuses, less returns) or by tasks completed, as the
 * program chooses. Each member picks how their name is shown: initials, first name, or hidden.
 */

export interface LeaderboardLine {
  rank: number;
  score: number;
  /** As the member chose to be shown; null: hidden. */
  name: string | null;
  own: boolean;
}

export interface Leaderboard {
  /** The month, YYYY-MM. */
  month: string;
  metric: 'points' | 'tasks';
  top: LeaderboardLine[];
  /** The member's own place (also when outside the top); null when they have not opted in. */
  own: LeaderboardLine | null;
  participants: number;
  profile: GameProfile;
}

/** "Anna Maria Smith" -> "A. M." (two at most); first name -> "Anna"; hidden -> null. */
export function shownName(name: string | null, style: NameStyle): string | null {
  const words = (name ?? '').trim().split(/\s+/).filter(Boolean);
  if (style === 'HIDDEN' || words.length === 0) return null;
  if (style === 'FIRST_NAME') return words[0] ?? null;
  return words
    .slice(0, 2)
    .map((word) => `${[...word][0]?.toUpperCase()}.`)
    .join(' ');
}

export async function getLeaderboard(deps: DomainDeps, who: MemberRef): Promise<Leaderboard> {
  const rules = deps.program.tasks.leaderboard;
  if (!rules.enabled) throw new DomainError('TASK_NOT_FOUND');
  const member = await activeMember(deps.repos, who);
  const month = monthBounds(deps.clock.now(), deps.program.timezone);
  const [profile, board] = await Promise.all([
    deps.repos.tasks.gameProfile(member.id),
    deps.repos.tasks.leaderboard({ metric: rules.metric, from: month.from, to: month.to, size: rules.size, memberId: member.id }),
  ]);
  const line = (row: { memberId: number; rank: number; score: number; name: string | null; nameStyle: NameStyle }): LeaderboardLine => ({
    rank: row.rank,
    score: row.score,
    name: shownName(row.name, row.nameStyle),
    own: row.memberId === member.id,
  });
  return {
    month: month.key,
    metric: rules.metric,
    top: board.top.map(line),
    own: board.own ? line(board.own) : null,
    participants: board.participants,
    profile,
  };
}

/** Opt in or out, and choose how the name is shown. */
export async function setLeaderboardProfile(deps: DomainDeps, telegramId: number, patch: Partial<GameProfile>): Promise<GameProfile> {
  if (!deps.program.tasks.leaderboard.enabled) throw new DomainError('TASK_NOT_FOUND');
  const member = await activeMember(deps.repos, telegramId);
  const profile = { ...(await deps.repos.tasks.gameProfile(member.id)), ...patch };
  await deps.repos.tasks.saveGameProfile(member.id, profile);
  return profile;
}
