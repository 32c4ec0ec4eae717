// gloo's allreduce on loopback, for Note [engine: Open MPI] (src/collective/group.ts).
// Build and run (2 processes, rendezvous through a file store):
//   g++ -O2 -std=c++17 bench/collective/gloo-allreduce.cc -lgloo -o /tmp/gloo-allreduce
//   dir=$(mktemp -d); for r in 0 1; do /tmp/gloo-allreduce $r 2 $dir & done; wait
// Prints, per size, the median of 50 timed allreduces (sum, float32, in place)
// after 5 untimed ones, the same measurement as bench/collective/mpi-allreduce.ts.
#include <gloo/allreduce.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s RANK SIZE STORE_DIR\n", argv[0]);
    return 2;
  }
  const int rank = std::atoi(argv[1]);
  const int size = std::atoi(argv[2]);
  gloo::transport::tcp::attr attr;
  attr.hostname = "127.0.0.1";
  auto device = gloo::transport::tcp::CreateDevice(attr);
  gloo::rendezvous::FileStore store(argv[3]);
  auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
  context->connectFullMesh(store, device);
  for (size_t n : {size_t(109386), size_t(10000000)}) {
    std::vector<float> data(n, float(rank + 1));
    std::vector<double> us;
    for (int i = 0; i < 55; i++) {
      gloo::AllreduceOptions opts(context);
      opts.setOutput(data.data(), n);
      opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
      opts.setTag(i);
      auto t0 = std::chrono::steady_clock::now();
      gloo::allreduce(opts);
      auto t1 = std::chrono::steady_clock::now();
      if (i >= 5) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    std::sort(us.begin(), us.end());
    if (rank == 0) std::printf("gloo allreduce %zu floats (%zu bytes), %d processes: median %.0f us, p10 %.0f, p90 %.0f\n", n, n * 4, size, us[us.size() / 2], us[us.size() / 10], us[us.size() * 9 / 10]);
  }
  return 0;
}
