/**
 * Plain SGD on one slice of the flat parameter vector: p[i] -= lr * g[i].
 * Each rank steps the slice it reduced, so the update is as parallel as the
 * reduce-scatter and every element is written by one thread only.
 */
export function sgdStep(params: Float32Array, grad: Float32Array, lo: number, hi: number, lr: number): void {
  for (let i = lo; i < hi; i++) params[i] -= lr * grad[i];
}
