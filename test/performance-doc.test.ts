import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { scalingTable, type Result, type ResultFile } from '../dist/bench/results.js';
import { BEGIN, END, resultsSection, withResults } from '../dist/scripts/performance-doc.js';

const row = (id: string, group: string, workers: number, reps: number[], extra: Partial<Result> = {}): Result => ({
  id,
  label: id,
  group,
  workers,
  batch: 64,
  warmup: { steps: 30, seconds: 1, steady: true, windows: [10, 10, 10], windowMs: [1, 1, 1], lastMs: 1 },
  repSteps: 100,
  reps,
  samplesPerSecond: reps[Math.floor(reps.length / 2)],
  ...extra,
});

const file: ResultFile = {
  date: '2026-12-07T03:00:00.000Z',
  machine: 'Test CPU, 2 cores, Node v20.20.2',
  backend: 'wasm',
  groups: [
    { id: 'strong', model: 'MLP', scaling: 'strong', reference: 'torch-mlp' },
    { id: 'weak', model: 'MLP', scaling: 'weak', reference: 'torch-mlp' },
  ],
  results: [
    row('strong-1', 'strong', 1, [100, 100, 100]),
    row('strong-2', 'strong', 2, [150, 160, 170]),
    row('strong-2-ceiling', 'strong', 2, [190, 190, 190], { ceiling: true }),
    row('weak-1', 'weak', 1, [100, 110, 120]),
    row('weak-2', 'weak', 2, [180, 198, 216]),
    { ...row('torch-mlp', 'x', 1, [200, 200, 200]), group: undefined },
  ],
};

describe('benchmark results as data', () => {
  it('the scaling table gives samples/s, the paired speed-up and efficiency = speed-up / workers, strong and weak', () => {
    const lines = scalingTable(file).split('\n');
    expect(lines).toEqual([
      '| model | scaling | workers | samples/s | speed-up | efficiency | x PyTorch |',
      '|---|---|---|---|---|---|---|',
      '| MLP | strong | 1 | 100 | 1.00x | 100% | 0.50x |',
      '| MLP | strong | 2 | 160 | 1.60x | 80% | 0.80x |',
      '| MLP | weak | 1 | 110 | 1.00x | 100% | 0.55x |',
      '| MLP | weak | 2 | 198 | 1.80x | 90% | 0.99x |',
    ]);
  });

  it('the generated section replaces only what lies between its markers, and says which file it came from', () => {
    const page = `# Performance\n\nprose before\n\n${BEGIN}\nold table\n${END}\n\nprose after\n`;
    const next = withResults(page, resultsSection([{ name: '2026-12-07-test.json', file }]), 'docs/performance.md');
    expect(next.startsWith('# Performance\n\nprose before\n\n')).toBe(true);
    expect(next.endsWith('\n\nprose after\n')).toBe(true);
    expect(next).toContain(
      'Newest run: 2026-12-07, Test CPU, 2 cores, Node v20.20.2, backend wasm (bench/results/2026-12-07-test.json).',
    );
    expect(next).not.toContain('old table');
    expect(() => withResults('# no markers\n', 'x', 'docs/performance.md')).toThrow(
      `docs/performance.md: the results markers are missing (a line "${BEGIN}" and, after it, "${END}")`,
    );
  });

  it('docs/performance.md holds exactly what the committed result files give', () => {
    const r = spawnSync(process.execPath, ['dist/scripts/performance-doc.js', '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
