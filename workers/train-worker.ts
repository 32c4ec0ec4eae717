/**
 * The worker side of a training run: the Piscina task module the pool
 * (src/trainer/pool.ts) starts in every worker thread. Each export is one kind
 * of task (src/worker/tasks.ts); the training loop is src/worker/train-loop.ts.
 */
export { evaluate, evaluateStream, init, predict, train, weights } from '../src/worker/tasks.js';
