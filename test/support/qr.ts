import { createRequire } from 'node:module';
import { PNG } from 'pngjs';

// jsqr ships CommonJS whose default export the ESM types do not describe.
const jsQR = createRequire(import.meta.url)('jsqr') as typeof import('jsqr').default;

/** What a phone camera would read from a PNG QR code. */
export function readQr(png: Buffer): string | null {
  const image = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data ?? null;
}
