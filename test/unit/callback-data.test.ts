import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CALLBACK_DATA_MAX_BYTES, CALLBACKS, callbackData, decodeCallback, encodeCallback, matchCallback } from '../../src/bot/callback-data.js';

/** The longest well-formed argument of each kind. */
const LONGEST = {
  locale: 'ru',
  yesNo: 'yes',
  dialog: 'A'.repeat(8),
  request: 'A'.repeat(12),
  coupon: 'A'.repeat(12),
  int: '9'.repeat(9),
  buttonKind: 'rewards',
  filter: 'np',
  list: 't',
  value: 'a'.repeat(32),
  reward: 'a'.repeat(32),
};

describe('the callback codec', () => {
  it('round-trips every declared route with typed arguments, in the wire format the buttons always had', () => {
    expect(encodeCallback('stf:pts', 'AbC_-123', 250)).toBe('stf:pts:AbC_-123:250');
    expect(decodeCallback('stf:pts:AbC_-123:250')).toEqual({ route: 'stf:pts', args: ['AbC_-123', 250] });
    expect(encodeCallback('rdm:no')).toBe('rdm:no');
    expect(decodeCallback('rdm:no')).toEqual({ route: 'rdm:no', args: [] });
    expect(decodeCallback(encodeCallback('stf:chk', 'abcdefghijkl'))).toEqual({ route: 'stf:chk', args: ['abcdefghijkl'] });
    expect(decodeCallback(encodeCallback('rdm:ok', 'ABCD2345EFGH'))).toEqual({ route: 'rdm:ok', args: ['ABCD2345EFGH'] });
    expect(matchCallback('stf:st', 'stf:st:AAAAAAAA:7')).toEqual(['AAAAAAAA', 7]);
    expect(matchCallback('stf:no', 'stf:st:AAAAAAAA:7')).toBeNull();
    expect(decodeCallback('bc:f:AAAAAAAA:bd')).toEqual({ route: 'bc:f', args: ['AAAAAAAA', 'bd'] });
    expect(decodeCallback('bc:x:42')).toEqual({ route: 'bc:x', args: [42] });
    // Registration's buttons keep the data they always had.
    expect(encodeCallback('reg:lang', 'en')).toBe('reg:lang:en');
    expect(decodeCallback('reg:lang:ru')).toEqual({ route: 'reg:lang', args: ['ru'] });
    expect(encodeCallback('reg:consent', 'no')).toBe('reg:consent:no');
    expect(decodeCallback('reg:consent:yes')).toEqual({ route: 'reg:consent', args: ['yes'] });
  });

  it('round-trips any well-formed dialog id and integer', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9_-]{8}$/);
    fc.assert(
      fc.property(id, fc.integer({ min: 0, max: 999_999_999 }), (dialog, points) => {
        const data = encodeCallback('stf:pts', dialog, points);
        expect(Buffer.byteLength(data)).toBeLessThanOrEqual(CALLBACK_DATA_MAX_BYTES);
        expect(decodeCallback(data)).toEqual({ route: 'stf:pts', args: [dialog, points] });
      }),
    );
  });

  it('refuses to write data over 64 bytes or arguments of the wrong shape', () => {
    expect(() => callbackData('x', 'é'.repeat(32))).toThrow(/64 bytes/);
    expect(callbackData('x', 'a'.repeat(62))).toHaveLength(64);
    expect(() => encodeCallback('stf:pts', 'short', 1)).toThrow(/malformed/);
    expect(() => encodeCallback('stf:pts', 'AAAAAAAA', -1)).toThrow(/malformed/);
    expect(() => encodeCallback('rdm:ok', 'lowercase123')).toThrow(/malformed/);
    // Every declared route fits in 64 bytes with its longest arguments.
    for (const [route, kinds] of Object.entries(CALLBACKS)) {
      const longest = kinds.map((kind) => LONGEST[kind]);
      expect(Buffer.byteLength([route, ...longest].join(':'))).toBeLessThanOrEqual(CALLBACK_DATA_MAX_BYTES);
    }
  });

  it('decodes garbage, forged and near-miss data as unknown', () => {
    for (const data of [
      undefined,
      '',
      'stf',
      'stf:',
      'stf:ok',
      'stf:ok:AAAAAAA',
      'stf:ok:AAAAAAAAA',
      'stf:ok:AAAAAAAA:1',
      'stf:pts:AAAAAAAA',
      'stf:pts:AAAAAAAA:-1',
      'stf:pts:AAAAAAAA:1e3',
      'stf:pts:AAAAAAAA:1234567890',
      'stf:pts:AAAAAAAA: 1',
      'stf:whatever',
      'rdm:no:extra',
      'reg:lang:de',
      'reg:lang:EN',
      'reg:lang',
      'reg:consent:maybe',
      'reg:consent:yes:no',
      'bc:f:AAAAAAAA:zz',
      'bc:bt:AAAAAAAA:javascript',
      'bc:or:AAAAAAAA:Cake',
      'rdm:ok:abcd2345efgh',
      'rdm:ok:ABCD2345EFGH:',
      'constructor:x',
      '__proto__:x',
      `stf:ok:${'A'.repeat(70)}`,
    ]) {
      expect(decodeCallback(data)).toEqual({ route: 'unknown' });
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (data) => {
        const decoded = decodeCallback(data);
        // Whatever decodes is exactly what encoding its reading gives back.
        if (decoded.route !== 'unknown') expect(encodeCallback(decoded.route, ...(decoded.args as unknown as []))).toBe(data);
      }),
    );
  });
});
