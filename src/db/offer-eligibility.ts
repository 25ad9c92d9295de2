import { activeMemberSql, ineligibilitySql, offerEligibleSql } from '../domain/delivery/eligibility.js';
import { Prisma } from '../generated/prisma/client.js';

// The domain's one eligibility rule (src/domain/delivery/eligibility.ts) as Prisma fragments over
// the "Member" row aliased `m`, the alias every recipient query here uses.

/** The member may receive offers: active with a chat, opted in, reachable. */
export const offerEligible = Prisma.raw(offerEligibleSql('m'));
/** An active member with a chat: who a segment can contain at all. */
export const activeMember = Prisma.raw(activeMemberSql('m'));
/** Why not: 'inactive' | 'optedOut' | 'unreachable', NULL when eligible. */
export const ineligibility = Prisma.raw(ineligibilitySql('m'));
