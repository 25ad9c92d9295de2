import type { Program } from '../../src/domain/program.js';
import { exampleProgram } from './program.js';

/** The example program with a charity section: two open causes and a closed one (min 100 points). */
export function charityProgram(edit: (charity: Record<string, unknown>) => void = () => {}): Program {
  return exampleProgram((raw) => {
    const charity = {
      minPoints: 100,
      causes: [
        {
          code: 'shelter',
          name: { ru: 'Приют', en: 'Animal shelter' },
          description: { ru: 'Корм и лечение', en: 'Food and care' },
          url: 'https://example.org/shelter',
        },
        { code: 'trees', name: { ru: 'Деревья', en: 'Tree planting' }, description: { ru: 'Деревья в парках', en: 'Trees for parks' } },
        { code: 'closed', name: { ru: 'Закрыт', en: 'Closed drive' }, description: { ru: 'Сбор завершён', en: 'Finished' }, open: false },
      ],
    };
    edit(charity);
    raw.charity = charity;
  });
}
