/**
 * MPI_Allreduce through the addon on loopback, for Note [engine: Open MPI]
 * (src/collective/group.ts); the same measurement as gloo-allreduce.cc beside it:
 *   npm run build:mpi && npx tsc -p tsconfig.json
 *   mpirun --allow-run-as-root --oversubscribe -np 2 node dist/bench/collective/mpi-allreduce.js
 * Per size: the median (p10, p90) of 50 timed allreduces (sum, float32, in place
 * on a view of a shared WebAssembly.Memory, as in training) after 5 untimed ones.
 */
import { loadMpi } from '../../src/collective/native.js';

const loaded = loadMpi();
if (loaded.mpi === undefined) throw new Error(loaded.reason);
const mpi = loaded.mpi;
const { rank, size } = mpi.init();
for (const n of [109_386, 10_000_000]) {
  const memory = new WebAssembly.Memory({
    initial: Math.ceil((4 * n) / 65536),
    maximum: Math.ceil((4 * n) / 65536),
    shared: true,
  });
  const data = new Float32Array(memory.buffer, 0, n).fill(rank + 1);
  const us: number[] = [];
  for (let i = 0; i < 55; i++) {
    mpi.barrier(0);
    const t0 = performance.now();
    mpi.allreduce(0, data);
    if (i >= 5) us.push((performance.now() - t0) * 1000);
  }
  us.sort((a, b) => a - b);
  const at = (q: number): string => us[Math.floor(q * us.length)].toFixed(0);
  if (rank === 0)
    console.log(
      `mpi allreduce ${n} floats (${4 * n} bytes), ${size} processes: median ${at(0.5)} us, p10 ${at(0.1)}, p90 ${at(0.9)}`,
    );
}
mpi.finalize();
