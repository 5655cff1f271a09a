// Data parallelism on torch c10d: torchrun-style environment, TCPStore rendezvous, Gloo (CPU) or NCCL (CUDA)
// process group, bucketed gradient all-reduce, scalar sums, parameter broadcast. One process per device.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace distill::trainer {

// Where this process sits in the job, as torchrun (or `distill launch`, or a Slurm wrapper) describes it.
struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr;
  int master_port = 0;
  // torchrun ≥ 2.x with c10d rendezvous serves the store itself (TORCHELASTIC_USE_AGENT_STORE=True): every rank
  // is then a client, under the key prefix of restart TORCHELASTIC_RESTART_COUNT.
  bool use_agent_store = false;
  int restart_count = 0;
};

// Looks a variable up; returns nullptr when it is unset (std::getenv's contract).
using EnvLookup = std::function<const char*(const char*)>;

// Parses RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT. No WORLD_SIZE (or 1) means a single process;
// WORLD_SIZE > 1 requires RANK, MASTER_ADDR and MASTER_PORT. Malformed or out-of-range values are an
// InvalidArgumentError that names the variable. Also reads TORCHELASTIC_USE_AGENT_STORE / _RESTART_COUNT.
absl::StatusOr<DistEnv> ParseDistEnv(const EnvLookup& lookup);
// ParseDistEnv over this process's environment.
absl::StatusOr<DistEnv> DistEnvFromEnvironment();

struct DataParallelOptions {
  // Gradients are flattened into buckets of about this many bytes (one collective per bucket).
  int64_t bucket_bytes = 25ll << 20;
  // Rendezvous and collective timeout: a rank that never shows up fails the others after this long.
  std::chrono::milliseconds timeout = std::chrono::minutes(10);
  // Creates the process group even for a world of one (a real Gloo/NCCL group over one device) instead of the
  // no-op handle: lets a one-GPU machine exercise the NCCL path. The trainer never sets it.
  bool group_for_one_rank = false;
};

// One process's handle on the job's process group. With world_size 1 there is no process group (unless
// options.group_for_one_rank) and every collective is a no-op that leaves its inputs unchanged. Every collective
// must be called by all ranks in the same order with tensors of the same shapes and dtypes (c10d's rule). Not
// thread-safe.
class DataParallel {
 public:
  // Rendezvous through a c10d::TCPStore at env.master_addr:env.master_port (rank 0 serves it), then creates a
  // Gloo process group for a CPU `device` or an NCCL one for CUDA. Fails with a clear status when the backend
  // was not compiled in or a rank does not show up within options.timeout.
  static absl::StatusOr<std::unique_ptr<DataParallel>> Init(const DistEnv& env, torch::Device device,
                                                            const DataParallelOptions& options = {});
  // Whether this build compiled a process group backend for `device`'s type (Gloo for CPU, NCCL for CUDA): a
  // LibTorch without gloo headers (pip's wheels) or without CUDA has none for that type.
  static bool HasBackend(torch::Device device);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  torch::Device device() const { return device_; }
  // Only the main rank (0) writes checkpoints, logs and reports.
  bool is_main() const { return rank_ == 0; }

  // Replaces each trainable parameter's gradient by its SUM over ranks (not the mean: the trainer divides by
  // the global count of loss tokens itself, which differs between ranks). Parameters with requires_grad but no
  // gradient on this rank contribute zeros (so every rank flattens the same list). Gradients are packed into
  // buckets of options.bucket_bytes in `params` order, one dtype per bucket.
  absl::Status AllReduceGradients(const std::vector<torch::Tensor>& params);
  // ZeRO-1's half of AllReduceGradients: each gradient's SUM over ranks lands only on its owner (owners[i] for
  // params[i], every rank passing the same list); elsewhere the gradient is left holding no meaningful value.
  // Buckets per owner, as AllReduceGradients'. Half the traffic of an all-reduce.
  absl::Status ReduceGradientsToOwners(const std::vector<torch::Tensor>& params, const std::vector<int>& owners);
  // Mixed precision (bf16 weights, fp32 master copies), called after every micro-batch's backward: each
  // trainable gradient of `params` is summed over ranks in fp32 and added into the gradient of masters[i] (fp32,
  // params[i]'s shape) on the ranks that hold it: owners[i] alone, or every rank when `owners` is empty; masters[i]
  // is undefined elsewhere. Then every gradient of `params` is dropped, so bf16 never holds a sum. One rank: the
  // fold alone. Buckets of options.bucket_bytes (in bf16 bytes) per owner; traffic per micro-batch is a reduce (an
  // all-reduce when unsharded) of fp32 gradients.
  absl::Status AccumulateGradientsIntoMasters(const std::vector<torch::Tensor>& params,
                                              const std::vector<torch::Tensor>& masters,
                                              const std::vector<int>& owners);
  // Sums a tensor over ranks in place (any dtype the backend supports; on `device`).
  absl::Status AllReduceSumInPlace(torch::Tensor& tensor);
  // Sums a scalar (loss sum, token count) over ranks.
  absl::StatusOr<double> AllReduceSum(double value);
  absl::StatusOr<int64_t> AllReduceSum(int64_t value);
  // Overwrites `tensors` (in place, bucketed) with rank `root`'s values: initial weights must agree on every rank,
  // and under a sharded optimizer each rank's updated share goes to the others.
  absl::Status Broadcast(const std::vector<torch::Tensor>& tensors, int root = 0);
  // Returns once every rank has called it.
  absl::Status Barrier();

 private:
  struct Impl;
  DataParallel(const DistEnv& env, torch::Device device, const DataParallelOptions& options);

  int rank_ = 0;
  int world_size_ = 1;
  torch::Device device_;
  DataParallelOptions options_;
  std::unique_ptr<Impl> impl_;  // null when world_size == 1
};

}  // namespace distill::trainer
