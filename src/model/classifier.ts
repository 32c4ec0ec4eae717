import { argMax } from './cross-entropy-head.js';
import type { Batch, EvalSums, Replica, WorkerModel } from './types.js';

/**
 * The MLP replicas as WorkerModels: NLL loss and accuracy from their log-probabilities.
 * Sums, not means, for the same reason as the gradient: any split of a split adds up.
 */
export function classifier(replica: Replica, numClasses: number): WorkerModel {
  return {
    lossAndGradSum: (params, batch, grad, clock) => replica.lossAndGradSum(params, batch, grad, clock),
    evaluate(params: Float32Array, batch: Batch): EvalSums {
      const logp = replica.logProbs(params, batch); // logp is (n, c)
      let lossSum = 0;
      let correct = 0;
      batch.indices.forEach((i, j) => {
        const y = batch.labels[i];
        lossSum -= logp[j * numClasses + y];
        if (argMax(logp, j * numClasses, numClasses) === y) correct++;
      });
      return { lossSum, metricSums: [correct] };
    },
    predict: (params, batch) => replica.logProbs(params, batch).map(Math.exp),
    nonTrainable: () => new Float32Array(0),
  };
}
