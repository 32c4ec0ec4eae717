/**
 * A worker thread's state for one training session, kept between its tasks:
 * its tfjs engine and rebuilt model, its views of the shared memory, the
 * barrier, and in an MPI job its link to the other processes.
 */
import { initBackend, type BackendName } from '../backend.js';
import { Barrier } from '../collective/barrier.js';
import { CrossProcess } from '../collective/cross-process.js';
import { Scavenges } from '../collective/scavenge.js';
import { LayersReplica } from '../model/layers-replica.js';
import { fastestReplica } from '../model/sequential-replica.js';
import type { WorkerModel } from '../model/types.js';
import { stateVectors } from '../optim/spec.js';
import { arenaViews, type Arena } from '../simd/arena.js';
import { kernelsFor, type Kernels } from '../simd/kernels.js';
import { workersOf } from '../trainer/lanes.js';
import type { Session } from '../trainer/session.js';

/** What this thread keeps between tasks of one session. */
export interface Local {
  readonly id: number;
  readonly backend: BackendName;
  readonly model: WorkerModel;
  readonly barrier: Barrier;
  readonly arena: Arena;
  readonly kernels: Kernels;
  /** This worker's link to its peers in the other processes of an MPI job; undefined in a single process. */
  readonly cross: CrossProcess | undefined;
  /** Scavenging together with the other workers (collective/scavenge.ts); undefined when off. */
  readonly scavenges: Scavenges | undefined;
  /** (P) a batch's gradient before it is added to this rank's row, when steps accumulate batches; else empty. */
  readonly scratch: Float32Array;
}

/**
 * Barrier deadline, a multiple of the step timeout: the coordinator's watchdog
 * (which can tell which rank is behind) should call a hang before a healthy
 * rank's barrier gives up and blurs the diagnosis.
 */
const BARRIER_TIMEOUT_FACTOR = 2;

let local: Local | undefined;

/** This thread's state for `session`, made at its first task (a tfjs engine, the model, views of the shared memory). */
export async function attach(session: Session, rank = 0): Promise<Local> {
  if (local?.id === session.id) return local;
  const mine = workersOf(rank, session.parties, session.workers);
  const backend = await initBackend(
    session.backend,
    session.faults.some((f) => f.kind === 'native-fail' && f.rank >= mine.lo && f.rank < mine.hi),
  );
  const model = await workerModel(session);
  const barrier = new Barrier(
    session.barrier,
    session.parties,
    BARRIER_TIMEOUT_FACTOR * session.stepTimeoutMs,
    session.spinCapMs,
  );
  const arena = arenaViews(session.memory, session.paramCount, session.parties, stateVectors(session.optimizer));
  const cross =
    session.cross === undefined
      ? undefined
      : CrossProcess.forWorker(session.cross, rank, session.parties, session.metricCount);
  const scratch = new Float32Array(session.accumulate > 1 ? session.paramCount : 0);
  local = {
    id: session.id,
    backend,
    model,
    barrier,
    arena,
    kernels: kernelsFor(session.memory),
    cross,
    scavenges: Scavenges.forWorker(session.scavenge),
    scratch,
  };
  return local;
}

async function workerModel({ layers, gradients }: Session): Promise<WorkerModel> {
  // 'manual': the backward written out where the model allows it (sequential-replica.ts), else tfjs autograd
  const replica = await LayersReplica.create(layers);
  return gradients === 'manual' ? fastestReplica(replica) : replica;
}

/** Runs fn; on failure releases the peers (they would otherwise wait at the barrier until the deadline) and rethrows. */
export function guarded<T>(l: Local, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    l.barrier.abort();
    throw err;
  }
}
