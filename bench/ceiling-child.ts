/**
 * One process of a ceiling row (ceiling.ts): `node ceiling-child.js MODEL BATCH PARTIES BACKEND`,
 * MODEL 'mlp' or a file of examples/; it updates one of PARTIES slices of the
 * parameters, as a worker does. Prints one JSON line when ready, then
 * answers each `run N` on stdin with {"seconds", "stepMs"} for N steps; exits at
 * the end of stdin.
 */
import { createInterface } from 'node:readline';
import { initBackend, type BackendRequest } from '../src/backend.js';
import { loadDataset } from '../src/data/dataset.js';
import { TUTORIAL_LR, TUTORIAL_MLP, genericStepRow, leanStepRow } from './baselines.js';

const [model, batch, parties] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const data = loadDataset();
const backend = await initBackend(process.argv[5] as BackendRequest);
const row =
  model === 'mlp'
    ? await leanStepRow(data, TUTORIAL_MLP, batch, TUTORIAL_LR, parties)
    : await genericStepRow(data, model, batch, parties);
console.log(JSON.stringify({ ready: true, backend, model, batch }));
for await (const line of createInterface({ input: process.stdin })) {
  const steps = Number(line.split(' ')[1]);
  console.log(JSON.stringify(await row.run(steps)));
}
await row.close();
