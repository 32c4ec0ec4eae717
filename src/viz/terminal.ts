/**
 * view_classify for a terminal: the digit in shade blocks beside bars of █.
 * Plain text (no colour codes), so it reads the same in a log file.
 */

const SHADES = [' ', '░', '▒', '▓', '█'];
/** Eighths of a block, for bar ends finer than one character. */
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const BAR_WIDTH = 40;

/** The image framed: rows + 2 lines, two characters per pixel (terminal cells are about twice as tall as wide). */
export function digitLines(pixels: Float32Array, rows: number, cols: number): string[] {
  const lines: string[] = [`┌${'─'.repeat(2 * cols)}┐`];
  for (let r = 0; r < rows; r++) {
    let line = '';
    for (let c = 0; c < cols; c++) {
      const v = Math.min(1, Math.max(0, pixels[r * cols + c]));
      line += SHADES[Math.round(v * (SHADES.length - 1))].repeat(2);
    }
    lines.push(`│${line}│`);
  }
  lines.push(`└${'─'.repeat(2 * cols)}┘`);
  return lines;
}

/** A title line, then per class `k │████▍ 0.553` (k: names[k] where given), the bar BAR_WIDTH characters at probability 1. */
export function barLines(probs: ArrayLike<number>, title = 'Class Probability', names?: readonly string[]): string[] {
  const lines = [title];
  const labels = Array.from({ length: probs.length }, (_, k) => names?.[k] ?? String(k));
  const width = Math.max(2, ...labels.map((l) => l.length));
  for (let k = 0; k < probs.length; k++) {
    const p = Math.min(1, Math.max(0, probs[k]));
    const eighths = Math.round(p * BAR_WIDTH * 8);
    const bar = '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
    lines.push(`${labels[k].padStart(width)} │${bar.padEnd(BAR_WIDTH + 1)} ${p.toFixed(3)}`);
  }
  return lines;
}

/** Two blocks of lines side by side, the right one centred vertically against the left. */
export function sideBySide(left: readonly string[], right: readonly string[], gap = 3): string[] {
  const width = Math.max(0, ...left.map((l) => [...l].length));
  const height = Math.max(left.length, right.length);
  const top = Math.floor((height - right.length) / 2);
  return Array.from({ length: height }, (_, i) => {
    const l = left[i] ?? '';
    const r = right[i - top] ?? '';
    return r === '' ? l.trimEnd() : `${l}${' '.repeat(width - [...l].length + gap)}${r}`;
  });
}
