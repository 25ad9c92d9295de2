import { existsSync } from 'node:fs';

/**
 * Charts as PNG: ECharts renders an SVG string server-side, resvg rasterises it. Both modules
 * are loaded on the first /stats only (an idle bot does not carry them, issue 12), and renders
 * take turns through a small global cap: they are CPU work in the bot's own process.
 */

export type ChartOption = Record<string, unknown>;

export interface ChartSize {
  width: number;
  height: number;
}

type Echarts = typeof import('echarts');
type ResvgModule = typeof import('@resvg/resvg-js');

let loading: Promise<{ echarts: Echarts; resvg: ResvgModule }> | null = null;
const load = () => {
  loading ??= Promise.all([import('echarts'), import('@resvg/resvg-js')]).then(([echarts, resvg]) => ({ echarts, resvg }));
  return loading;
};

/** DejaVu covers Latin and Cyrillic; without it resvg falls back to whatever the system has. */
const FONT_DIR = '/usr/share/fonts/truetype/dejavu';
export const FONT_FAMILY = 'DejaVu Sans';
const fontOptions = () =>
  existsSync(FONT_DIR)
    ? { loadSystemFonts: false, fontDirs: [FONT_DIR], defaultFontFamily: FONT_FAMILY }
    : { loadSystemFonts: true, defaultFontFamily: FONT_FAMILY };

/** At most this many renders at once in the process (each holds a core while it runs). */
export const MAX_CONCURRENT_RENDERS = 1;
let running = 0;
const waiting: (() => void)[] = [];

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_RENDERS) await new Promise<void>((resolve) => waiting.push(resolve));
  else running += 1;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    // The slot passes straight to the next waiter; `running` only drops when nobody waits.
    if (next) next();
    else running -= 1;
  }
}

/** One chart option -> SVG text. Always disposes the chart: a live ECharts instance keeps the process from exiting. */
export async function renderSvg(option: ChartOption, size: ChartSize): Promise<string> {
  const { echarts } = await load();
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: size.width, height: size.height });
  try {
    chart.setOption({ animation: false, backgroundColor: '#ffffff', textStyle: { fontFamily: FONT_FAMILY }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** Several charts as PNG images, in order, one render at a time across the process. */
export async function renderPngs(options: ChartOption[], size: ChartSize): Promise<Buffer[]> {
  return withSlot(async () => {
    const { resvg } = await load();
    const font = fontOptions();
    const images: Buffer[] = [];
    for (const option of options) {
      const svg = await renderSvg(option, size);
      images.push(Buffer.from(new resvg.Resvg(svg, { font, fitTo: { mode: 'original' } }).render().asPng()));
    }
    return images;
  });
}
