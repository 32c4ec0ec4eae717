/**
 * A grid of test digits, each captioned with the predicted and the true
 * label; mistakes are red, captioned and framed.
 */
import { INK, RED, drawDigit, figure, font, png } from './figure.js';

export interface GridCell {
  /** rows*cols values in [0, 1], row-major, 0 black. */
  readonly pixels: Float32Array;
  /** The predicted and the true class: an index or a name, compared as given. */
  readonly predicted: number | string;
  readonly label: number | string;
}

const SCALE = 4;
const GAP = 22;
const CAPTION = 24;
const TOP = 64;

/** A PNG of the cells, `columns` to a row, under `title`. */
export function gridPng(
  cells: readonly GridCell[],
  rows: number,
  cols: number,
  columns: number,
  title: string,
): Promise<Buffer> {
  const w = cols * SCALE;
  const h = rows * SCALE;
  const lines = Math.ceil(cells.length / columns);
  const fig = figure(GAP + columns * (w + GAP), TOP + lines * (CAPTION + h + GAP));
  const { ctx } = fig;
  const wrong = cells.filter((c) => c.predicted !== c.label).length;
  ctx.textAlign = 'center';
  ctx.font = font(18, true);
  ctx.fillText(title, fig.canvas.width / 2, 28);
  ctx.font = font(14);
  ctx.fillText(
    `${cells.length - wrong}/${cells.length} correct; mistakes in red, with the true label`,
    fig.canvas.width / 2,
    50,
  );
  cells.forEach((c, i) => {
    const x = GAP + (i % columns) * (w + GAP);
    const y = TOP + Math.floor(i / columns) * (CAPTION + h + GAP);
    const ok = c.predicted === c.label;
    ctx.fillStyle = ok ? INK : RED;
    ctx.font = font(15, !ok);
    ctx.fillText(ok ? `${c.predicted}` : `${c.predicted} (true ${c.label})`, x + w / 2, y + CAPTION - 7);
    drawDigit(fig, c.pixels, rows, cols, x, y + CAPTION, SCALE);
    if (!ok) {
      ctx.strokeStyle = RED;
      ctx.lineWidth = 4;
      ctx.strokeRect(x - 2, y + CAPTION - 2, w + 4, h + 4);
    }
  });
  return png(fig);
}
