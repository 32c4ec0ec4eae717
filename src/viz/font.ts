import { createRequire } from 'node:module';
import { GlobalFonts } from '@napi-rs/canvas';

/**
 * The one font family of every PNG: DejaVu Sans from the dejavu-fonts-ttf npm
 * package. A machine may have no system fonts at all (Skia then draws no text),
 * so the TTFs are registered from the package, under a name of our own so
 * that text never silently falls back to whatever the system has.
 */
export const FONT = 'worker-ddp DejaVu Sans';

const FILES = ['dejavu-fonts-ttf/ttf/DejaVuSans.ttf', 'dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf'];

let registered = false;

/** Registers FONT (once per process) and returns its family name. */
export function useFont(): string {
  if (registered) return FONT;
  const require = createRequire(import.meta.url);
  for (const f of FILES) {
    const path = require.resolve(f);
    if (GlobalFonts.registerFromPath(path, FONT) === null) throw new Error(`cannot load the font ${path}`);
  }
  registered = true;
  return FONT;
}
