/**
 * The PyTorch tutorial's view_classify as a PNG: the digit enlarged on the
 * left, a horizontal bar chart "Class Probability" over the classes on the
 * right, x from 0 to 1.1.
 */
import { BLUE, MUTED, drawChart, drawDigit, figure, png } from './figure.js';

/** One image and the model's class probabilities for it. */
export interface Classified {
  /** rows*cols values in [0, 1], row-major, 0 black. */
  readonly pixels: Float32Array;
  readonly rows: number;
  readonly cols: number;
  /** One probability per class; class k is labelled names[k], else k. */
  readonly probs: Float32Array;
  readonly names?: readonly string[];
  /** A line above the digit, e.g. "test image 0, label 7". */
  readonly caption: string;
}

const SCALE = 12;
const PAD = 24;
const TOP = 56;
const CHART = [520, 400] as const;

export function classifyPng(c: Classified): Promise<Buffer> {
  const side = c.cols * SCALE;
  const width = PAD + side + PAD + CHART[0] + PAD;
  const height = Math.max(TOP + c.rows * SCALE, CHART[1]) + PAD;
  const fig = figure(width, height);
  const best = argmax(c.probs);
  fig.ctx.textAlign = 'center';
  fig.ctx.fillText(c.caption, PAD + side / 2, 24);
  fig.ctx.fillStyle = MUTED;
  fig.ctx.fillText(`predicted ${label(c, best)} (${(100 * c.probs[best]).toFixed(1)}%)`, PAD + side / 2, 44);
  drawDigit(fig, c.pixels, c.rows, c.cols, PAD, TOP, SCALE);
  fig.ctx.strokeStyle = MUTED; // the image's extent, visible when its background is light
  fig.ctx.strokeRect(PAD - 0.5, TOP - 0.5, side + 1, c.rows * SCALE + 1);
  drawChart(fig, [PAD + side + PAD, 8, CHART[0], CHART[1]], {
    type: 'bar',
    data: {
      labels: Array.from(c.probs, (_, k) => label(c, k)),
      datasets: [{ data: Array.from(c.probs), backgroundColor: BLUE, barPercentage: 0.8, categoryPercentage: 1 }],
    },
    options: {
      indexAxis: 'y',
      plugins: {
        legend: { display: false },
        title: { display: true, text: 'Class Probability', font: { size: 18, weight: 'bold' } },
      },
      scales: {
        x: {
          min: 0,
          max: 1.1,
          ticks: { stepSize: 0.2, font: { size: 13 } },
          // Chart.js adds a tick at the 1.1 limit, crowding 1.0; matplotlib labels only the steps.
          afterBuildTicks: (axis) => {
            axis.ticks = axis.ticks.filter((t) => Math.abs(5 * t.value - Math.round(5 * t.value)) < 1e-9);
          },
        },
        y: { ticks: { font: { size: 15 } }, grid: { display: false } },
      },
    },
  });
  return png(fig);
}

function label(c: Classified, k: number): string {
  return c.names?.[k] ?? String(k);
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < a.length; k++) if (a[k] > a[best]) best = k;
  return best;
}
