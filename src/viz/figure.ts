/**
 * Canvas helpers for the PNGs: a white figure to compose panels on, Chart.js
 * charts drawn off-screen onto it, and PNG encoding. Chart.js runs on
 * @napi-rs/canvas (Skia, prebuilt binaries shipped in npm) through its
 * BasicPlatform: no DOM, no animation, no resize handling.
 */
import { createCanvas, type Canvas, type SKRSContext2D } from '@napi-rs/canvas';
import { Chart, registerables, type ChartConfiguration, type ChartItem, type ChartType } from 'chart.js';
import { useFont } from './font.js';

Chart.register(...registerables);

export const INK = '#222222';
export const MUTED = '#666666';
export const BLUE = '#1f77b4';
export const ORANGE = '#ff7f0e';
export const RED = '#d62728';

export interface Figure {
  readonly canvas: Canvas;
  readonly ctx: SKRSContext2D;
}

/** A width x height canvas filled white, with the figure font as the default. */
export function figure(width: number, height: number): Figure {
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = INK;
  ctx.font = font(14);
  return { canvas, ctx };
}

/** A CSS font string in the figure font. */
export function font(px: number, bold = false): string {
  return `${bold ? 'bold ' : ''}${px}px "${useFont()}"`;
}

/** Draws a Chart.js chart into the box (x, y, width, height) of the figure. */
export function drawChart<T extends ChartType>(
  fig: Figure,
  box: readonly [number, number, number, number],
  config: ChartConfiguration<T>,
): void {
  const [x, y, width, height] = box;
  const family = useFont();
  Chart.defaults.font.family = family;
  Chart.defaults.color = INK;
  const scratch = createCanvas(width, height);
  const chart = new Chart(
    scratch as unknown as ChartItem,
    {
      ...config,
      options: { ...config.options, animation: false, responsive: false, devicePixelRatio: 1 },
    } as ChartConfiguration<T>,
  );
  try {
    fig.ctx.drawImage(scratch, x, y); // before destroy(), which clears the scratch canvas
  } finally {
    chart.destroy();
  }
}

/** Draws a grayscale image (rows x cols, values in [0, 1], 0 black) scaled up without smoothing, so pixels stay square. */
export function drawDigit(
  fig: Figure,
  pixels: Float32Array,
  rows: number,
  cols: number,
  x: number,
  y: number,
  scale: number,
): void {
  const small = createCanvas(cols, rows);
  const sctx = small.getContext('2d');
  const img = sctx.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, pixels[i])));
    img.data.set([v, v, v, 255], 4 * i);
  }
  sctx.putImageData(img, 0, 0);
  fig.ctx.imageSmoothingEnabled = false;
  fig.ctx.drawImage(small, x, y, cols * scale, rows * scale);
  fig.ctx.imageSmoothingEnabled = true;
}

export function png(fig: Figure): Promise<Buffer> {
  return fig.canvas.encode('png');
}
