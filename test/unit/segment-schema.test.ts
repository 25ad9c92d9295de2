import { describe, expect, it } from 'vitest';
import { NUMBERS } from '../../src/bot/features/broadcasts/wizard.js';
import { segmentProblems } from '../../src/domain/broadcasts/segment.js';
import { segmentSchema } from '../../src/domain/broadcasts/segment-schema.js';
import { segmentSchema as httpSegmentSchema } from '../../src/http/api/broadcasts.js';
import { exampleProgram } from '../support/program.js';

/** One declaration of a segment: the domain's schema is what HTTP takes and the bot's bounds come from. */
describe('the segment schema', () => {
  it('is the very schema of the HTTP body', () => {
    expect(httpSegmentSchema).toBe(segmentSchema);
  });

  it("gives the chat's number filters their bounds (0 clears a filter, so they start at 1)", () => {
    for (const { key, min, max } of Object.values(NUMBERS)) {
      expect(segmentSchema.safeParse({ [key]: max }).success).toBe(true);
      expect(segmentSchema.safeParse({ [key]: max + 1 }).success).toBe(false);
      expect(segmentSchema.safeParse({ [key]: min }).success).toBe(true);
    }
  });

  it('refuses in segmentProblems what the schema refuses, naming the field: unknown filters, fractions, empty lists', () => {
    const program = exampleProgram();
    expect(segmentProblems({ colour: ['red'] } as never, program)).toEqual([{ field: 'segment.colour', message: 'is not a filter' }]);
    expect(segmentProblems({ registeredWithinDays: 1.5 }, program)[0]?.field).toBe('segment.registeredWithinDays');
    expect(segmentProblems({ stores: [] }, program)[0]).toEqual({ field: 'segment.stores', message: 'lists at least one value (leave it out for any)' });
    expect(segmentProblems({ minBalance: 0, languages: ['ru'] }, program)).toEqual([]);
  });
});
