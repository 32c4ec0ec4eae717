/**
 * loss.png: training loss per epoch and per window of steps (left), and test
 * accuracy per epoch (right; for regression targets the test mean absolute error). The x axis is in epochs; a mean is drawn at the
 * middle of the steps it averages, an evaluation at the epoch's end.
 */
import type { Metrics, TestRecord } from '../io/metrics.js';
import { LOSS_WINDOW } from '../io/metrics.js';
import { BLUE, ORANGE, drawChart, figure, png } from './figure.js';

const PANEL = [560, 420] as const;
const PAD = 16;

/**
 * The x axis's extent in epochs: every epoch recorded and every step window
 * (a run stopped inside an epoch has windows past its last finished epoch).
 */
export function epochsShown(m: Metrics): number {
  const lastStep = m.stepLoss.at(-1)?.step ?? 0;
  return Math.max(1, Math.ceil(lastStep / m.stepsPerEpoch), ...m.epochs.map((e) => e.epoch));
}

export function lossPng(m: Metrics): Promise<Buffer> {
  const fig = figure(PAD + 2 * (PANEL[0] + PAD), PANEL[1] + 2 * PAD);
  const S = m.stepsPerEpoch;
  const epochs = epochsShown(m);
  const epochAxis = { type: 'linear', min: 0, title: { display: true, text: 'epoch' } } as const;
  const regression = m.epochs.some((e) => e.test.mae !== undefined);
  const right = regression
    ? { label: 'test mae', title: 'Test mean absolute error per epoch', axis: 'mae', y: (t: TestRecord) => t.mae }
    : {
        label: 'test accuracy',
        title: 'Test accuracy per epoch',
        axis: 'accuracy (%)',
        y: (t: TestRecord) => 100 * (t.accuracy ?? NaN),
      };
  drawChart(fig, [PAD, PAD, PANEL[0], PANEL[1]], {
    type: 'line',
    data: {
      datasets: [
        {
          label: `mean of ${LOSS_WINDOW} steps`,
          data: m.stepLoss.map((w) => ({ x: (w.step - w.steps / 2) / S, y: w.loss })),
          borderColor: BLUE,
          backgroundColor: BLUE,
          pointRadius: m.stepLoss.length > 60 ? 0 : 2,
          borderWidth: 1.5,
        },
        {
          label: 'epoch mean',
          data: m.epochs.map((e) => ({ x: e.epoch - 0.5, y: e.loss })),
          borderColor: ORANGE,
          backgroundColor: ORANGE,
          pointRadius: 5,
          borderWidth: 2,
          clip: 8,
        },
      ],
    },
    options: {
      plugins: {
        title: {
          display: true,
          text: regression ? 'Training loss' : 'Training loss (NLL)',
          font: { size: 16, weight: 'bold' },
        },
      },
      scales: { x: { ...epochAxis, max: epochs }, y: { title: { display: true, text: 'loss' } } },
    },
  });
  drawChart(fig, [2 * PAD + PANEL[0], PAD, PANEL[0], PANEL[1]], {
    type: 'line',
    data: {
      datasets: [
        {
          label: right.label,
          data: m.epochs.map((e) => ({ x: e.epoch, y: right.y(e.test) ?? NaN })),
          borderColor: BLUE,
          backgroundColor: BLUE,
          pointRadius: 5,
          borderWidth: 2,
          clip: 8, // the last epoch's point sits on the right edge
        },
      ],
    },
    options: {
      plugins: {
        legend: { display: false },
        title: { display: true, text: right.title, font: { size: 16, weight: 'bold' } },
      },
      scales: {
        x: { ...epochAxis, max: epochs, ticks: { stepSize: 1 } },
        y: { title: { display: true, text: right.axis } },
      },
    },
  });
  return png(fig);
}
