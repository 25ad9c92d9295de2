import type { RewardDefinition } from '../../src/domain/rewards/types.js';

/** A plain gift for 100 points, valid 10 days, no stock or limits: tests change what they need. */
export function rewardDefinition(overrides: Partial<RewardDefinition> = {}): RewardDefinition {
  return {
    code: 'gift',
    kind: 'GIFT',
    value: null,
    cost: 100,
    stock: null,
    limit: null,
    minTier: null,
    validityDays: 10,
    availableFrom: null,
    availableTo: null,
    imageUrl: null,
    title: { ru: 'Подарок', en: 'A gift' },
    description: { ru: 'Описание', en: 'A description.' },
    active: true,
    ...overrides,
  };
}
