// Whole steps, FMA build against plain, on bench/scaling.ts's rows: pairs of processes, both
// through use-fma.mjs's hooks, one given the FMA build and one the plain (FMA_BUILD=plain), in
// alternating order; the
// ratio of each pair's samples/s per row, and their median. Every line names the Node version.
// Run: npx tsc -p tsconfig.json && node dev/fma/ab.mjs [pairs=5] [rows=strong-1,strong-2,convnet-1,convnet-2]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pairs = Number(process.argv[2] ?? 5);
const rows = process.argv[3] ?? 'strong-1,strong-2,convnet-1,convnet-2';
const bench = new URL('../../dist/bench/scaling.js', import.meta.url).pathname;
const hook = new URL('./use-fma.mjs', import.meta.url).pathname;

/** samples/s per row of one bench process, the FMA build or the plain one. */
function run(build) {
  const out = mkdtempSync(join(tmpdir(), 'fma-ab-'));
  const args = ['--import', hook, bench, '--rows', rows, '--reps', '5', '--max-warmup-seconds', '20', '--out', out];
  execFileSync(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, FMA_BUILD: build },
  });
  const { results } = JSON.parse(readFileSync(join(out, 'scaling.json'), 'utf8'));
  return new Map(results.map((r) => [r.id, r.samplesPerSecond]));
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
const ratios = new Map(rows.split(',').map((id) => [id, []]));
for (let i = 0; i < pairs; i++) {
  const order = i % 2 === 0 ? ['fma', 'plain'] : ['plain', 'fma'];
  const got = Object.fromEntries(order.map((b) => [b, run(b)]));
  for (const [id, r] of ratios) r.push(got.fma.get(id) / got.plain.get(id));
  console.log(
    `pair ${i + 1} (${order.join(' then ')}), Node ${process.version}: ${[...ratios].map(([id, r]) => `${id} fma/plain ${r[i].toFixed(3)}`).join(', ')}`,
  );
}
for (const [id, r] of ratios)
  console.log(
    `${id}, Node ${process.version}: fma / plain samples/s, median of ${r.length} pairs ${median(r).toFixed(3)}x (${r.map((v) => v.toFixed(2)).join(' ')})`,
  );
