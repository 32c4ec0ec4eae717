// docs/usage.md against the code (issue 25): its flag rows say what `--help` says, and its
// --json example is output as the CLI prints it (every field, full precision, in its order).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../dist/src/cli/args.js';
import { PREDICT_USAGE } from '../dist/src/cli/predict-args.js';

const DOC = readFileSync(fileURLToPath(new URL('../docs/usage.md', import.meta.url)), 'utf8');

/** The description `--help` gives a flag: the text after its name and argument, continuation lines joined. */
function helpText(usage: string, flag: string): string {
  const lines = usage.split('\n');
  const i = lines.findIndex((l) => l.startsWith(`  ${flag} `));
  expect(i, `${flag} in --help`).toBeGreaterThanOrEqual(0);
  const parts = [lines[i].replace(/^\s+--\S+( [A-Z][A-Z.]*)?\s+/, '')];
  for (let j = i + 1; j < lines.length && /^ {10,}\S/.test(lines[j]); j++) parts.push(lines[j].trim());
  return parts.join(' ');
}

/** A docs table row's description of `flag`. */
function docText(flag: string): string {
  const row = DOC.split('\n').find((l) => l.startsWith(`| \`${flag} `) || l.startsWith(`| \`${flag}\``));
  expect(row, `${flag} in docs/usage.md`).toBeDefined();
  return (row ?? '').split(' | ')[1].replace(/ \|$/, '');
}

describe('docs/usage.md', () => {
  it.each(['--checkpoint-every', '--resume', '--logdir', '--log-every'])('%s: the same words as --help', (flag) => {
    expect(docText(flag)).toBe(helpText(USAGE, flag));
  });

  it('predict --model: both say that the newest run is the default', () => {
    expect(helpText(PREDICT_USAGE, '--model')).toContain('default: the newest run under runs/');
    expect(docText('--model')).toContain('default: the run folder under `runs/` whose `model.json` was written last');
  });

  it('the --json example: real lines, every documented field in the printed order, full precision', () => {
    const block = /npm run train -- --workers 2 --epochs 2 --json`[^\n]*\n\n```\n([^`]+)```/.exec(DOC);
    expect(block).not.toBeNull();
    const lines = (block?.[1] ?? '').trimEnd().split('\n');
    expect(lines.length).toBe(2);
    lines.forEach((l, i) => {
      const o = JSON.parse(l) as {
        epoch: number;
        loss: number;
        samples: number;
        seconds: number;
        samplesPerSecond: number;
        test: { loss: number; accuracy: number; count: number };
        epochs: number;
      };
      expect(Object.keys(o)).toEqual(['epoch', 'loss', 'samples', 'seconds', 'samplesPerSecond', 'test', 'epochs']);
      expect(Object.keys(o.test)).toEqual(['loss', 'accuracy', 'count']);
      expect([o.epoch, o.epochs, o.samples, o.test.count]).toEqual([i + 1, 2, 60000, 10000]);
      expect(o.samplesPerSecond).toBeCloseTo(o.samples / o.seconds, 6);
      expect(String(o.loss).length).toBeGreaterThan(10); // not rounded for show
    });
    // The tutorial recipe's first epoch (the README's curve starts at loss 2.2377, test accuracy 55.81%).
    expect(lines[0]).toMatch(/^\{"epoch":1,"loss":2\.23766\d+,.*"accuracy":0\.5581,/);
  });
});
