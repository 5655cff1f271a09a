#include "trainer/distributed.h"

#include <torch/types.h>
#include <torch/version.h>

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "torch/csrc/distributed/c10d/PrefixStore.hpp"
#include "torch/csrc/distributed/c10d/TCPStore.hpp"

// Gloo: trainer/CMakeLists.txt defines DISTILL_WITH_GLOO when gloo's headers are found; the c10d header is empty
// without USE_C10D_GLOO, which LibTorch's CMake interface normally defines.
#if defined(DISTILL_WITH_GLOO)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include "torch/csrc/distributed/c10d/ProcessGroupGloo.hpp"
#define DISTILL_HAVE_GLOO 1
#endif
// NCCL: only with a CUDA LibTorch (DISTILL_WITH_NCCL: trainer/CMakeLists.txt found nccl.h beside it).
#if defined(DISTILL_WITH_NCCL)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include "torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp"
#define DISTILL_HAVE_NCCL 1
#endif

#if TORCH_VERSION_MAJOR >= 2
#include "torch/csrc/distributed/c10d/Backend.hpp"
#else
#include "torch/csrc/distributed/c10d/ProcessGroup.hpp"
#endif

namespace distill::trainer {
namespace {

// LibTorch 2 split the collective implementations (Backend) from the dispatching ProcessGroup; 1.x had one class.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

absl::StatusOr<int64_t> ParseInt(const EnvLookup& lookup, const char* name, int64_t min, int64_t max,
                                 int64_t fallback, bool* present) {
  const char* raw = lookup(name);
  *present = raw != nullptr && *raw != '\0';
  if (!*present) return fallback;
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(raw, &end, 10);
  if (errno != 0 || end == raw || *end != '\0' || value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrFormat("environment variable %s=\"%s\" is not an integer in [%d, %d]", name, raw, min, max));
  }
  return value;
}

absl::Status Collective(const char* what, const std::function<void()>& op) {
  // c10d reports timeouts, dead peers and misuse by throwing; callers get a Status instead.
  try {
    op();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("data parallel ", what, " failed: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<DistEnv> ParseDistEnv(const EnvLookup& lookup) {
  DistEnv env;
  bool has_world = false, has_rank = false, has_local = false, has_port = false;
  auto world = ParseInt(lookup, "WORLD_SIZE", 1, 1 << 20, 1, &has_world);
  if (!world.ok()) return world.status();
  env.world_size = static_cast<int>(*world);
  auto rank = ParseInt(lookup, "RANK", 0, env.world_size - 1, 0, &has_rank);
  if (!rank.ok()) return rank.status();
  env.rank = static_cast<int>(*rank);
  auto local = ParseInt(lookup, "LOCAL_RANK", 0, env.world_size - 1, env.rank, &has_local);
  if (!local.ok()) return local.status();
  env.local_rank = static_cast<int>(*local);
  auto port = ParseInt(lookup, "MASTER_PORT", 1, 65535, 0, &has_port);
  if (!port.ok()) return port.status();
  env.master_port = static_cast<int>(*port);
  if (const char* addr = lookup("MASTER_ADDR"); addr != nullptr) env.master_addr = addr;
  const char* agent_store = lookup("TORCHELASTIC_USE_AGENT_STORE");
  env.use_agent_store = agent_store != nullptr && std::string(agent_store) == "True";
  bool has_restart = false;
  auto restart = ParseInt(lookup, "TORCHELASTIC_RESTART_COUNT", 0, std::numeric_limits<int>::max(), 0, &has_restart);
  if (!restart.ok()) return restart.status();
  env.restart_count = static_cast<int>(*restart);
  if (env.world_size > 1) {
    if (!has_rank) return absl::InvalidArgumentError("WORLD_SIZE > 1 but environment variable RANK is not set");
    if (env.master_addr.empty())
      return absl::InvalidArgumentError("WORLD_SIZE > 1 but environment variable MASTER_ADDR is not set");
    if (!has_port) return absl::InvalidArgumentError("WORLD_SIZE > 1 but environment variable MASTER_PORT is not set");
  }
  return env;
}

absl::StatusOr<DistEnv> DistEnvFromEnvironment() {
  return ParseDistEnv([](const char* name) { return std::getenv(name); });
}

struct DataParallel::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveBackend> group;
};

DataParallel::DataParallel(const DistEnv& env, torch::Device device, const DataParallelOptions& options)
    : rank_(env.rank), world_size_(env.world_size), device_(device), options_(options) {}

DataParallel::~DataParallel() = default;

bool DataParallel::HasBackend(torch::Device device) {
#if defined(DISTILL_HAVE_GLOO)
  if (device.is_cpu()) return true;
#endif
#if defined(DISTILL_HAVE_NCCL)
  if (device.is_cuda()) return true;
#endif
  return false;
}

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::Init(const DistEnv& env, torch::Device device,
                                                                 const DataParallelOptions& options) {
  if (env.world_size < 1 || env.rank < 0 || env.rank >= env.world_size)
    return absl::InvalidArgumentError(absl::StrFormat("rank %d outside world of %d", env.rank, env.world_size));
  if (options.bucket_bytes <= 0) return absl::InvalidArgumentError("bucket_bytes must be positive");
  std::unique_ptr<DataParallel> dp(new DataParallel(env, device, options));
  if (env.world_size == 1 && !options.group_for_one_rank) return dp;
  if (env.master_addr.empty() || env.master_port <= 0 || env.master_port > 65535)
    return absl::InvalidArgumentError("data parallel needs MASTER_ADDR and MASTER_PORT");
#if !defined(DISTILL_HAVE_GLOO)
  if (device.is_cpu())
    return absl::UnimplementedError(
        "data parallel on CPU needs Gloo, but this build of distill found no gloo headers (gloo/algorithm.h) "
        "beside LibTorch; install them (Debian: libgloo-dev) and rebuild");
#endif
#if !defined(DISTILL_HAVE_NCCL)
  if (device.is_cuda())
    return absl::UnimplementedError(
        "data parallel on CUDA needs NCCL, but this build of distill was not compiled against a CUDA LibTorch "
        "with c10d NCCL support");
#endif
  if (!device.is_cpu() && !device.is_cuda())
    return absl::UnimplementedError(absl::StrCat("data parallel supports CPU (Gloo) and CUDA (NCCL), not ",
                                                 device.str()));
  auto impl = std::make_unique<Impl>();
  absl::Status made = Collective("rendezvous", [&] {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0 && !env.use_agent_store;
    store_options.numWorkers = static_cast<std::size_t>(env.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = options.timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    // The same key space as torch.distributed's env:// rendezvous under torchrun's agent store.
    if (env.use_agent_store)
      impl->store = c10::make_intrusive<c10d::PrefixStore>(absl::StrCat("/worker/attempt_", env.restart_count),
                                                           impl->store);
  });
  if (!made.ok()) {
    return absl::UnavailableError(absl::StrFormat("rank %d of %d: rendezvous at %s:%d failed: %s", env.rank,
                                                  env.world_size, env.master_addr, env.master_port, made.message()));
  }
  made = Collective("process group creation", [&] {
#if defined(DISTILL_HAVE_GLOO)
    if (device.is_cpu()) {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
      // Like torch.distributed: GLOO_SOCKET_IFNAME picks the interface; a loopback master means a one-host job.
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      if (ifname != nullptr && *ifname != '\0') {
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost") {
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, env.rank, env.world_size, gloo_options);
    }
#endif
#if defined(DISTILL_HAVE_NCCL)
    if (device.is_cuda()) {
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = options.timeout;
      impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, env.rank, env.world_size, nccl_options);
    }
#endif
  });
  if (!made.ok()) return absl::Status(made.code(), absl::StrFormat("rank %d: %s", env.rank, made.message()));
  if (!impl->group) return absl::InternalError("no process group backend for " + device.str());
  dp->impl_ = std::move(impl);
  return dp;
}

absl::Status DataParallel::AllReduceSumInPlace(torch::Tensor& tensor) {
  if (!impl_) return absl::OkStatus();
  return Collective("all-reduce", [&] {
    std::vector<torch::Tensor> tensors{tensor};
    impl_->group->allreduce(tensors)->wait();  // AllreduceOptions default: SUM
  });
}

absl::StatusOr<double> DataParallel::AllReduceSum(double value) {
  if (!impl_) return value;
  torch::Tensor t = torch::full({1}, value, torch::TensorOptions().dtype(torch::kDouble).device(device_));
  if (absl::Status s = AllReduceSumInPlace(t); !s.ok()) return s;
  return t.item<double>();
}

absl::StatusOr<int64_t> DataParallel::AllReduceSum(int64_t value) {
  if (!impl_) return value;
  torch::Tensor t = torch::full({1}, value, torch::TensorOptions().dtype(torch::kLong).device(device_));
  if (absl::Status s = AllReduceSumInPlace(t); !s.ok()) return s;
  return t.item<int64_t>();
}

namespace {

// Consecutive runs of same-dtype tensors totalling at most `bucket_bytes` (a larger tensor gets its own bucket).
// Deterministic in the input order, so every rank forms the same buckets.
std::vector<std::vector<torch::Tensor>> Buckets(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  std::vector<std::vector<torch::Tensor>> buckets;
  int64_t bytes = 0;
  for (const torch::Tensor& t : tensors) {
    const int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    if (buckets.empty() || buckets.back().front().scalar_type() != t.scalar_type() ||
        buckets.back().front().device() != t.device() || bytes + size > bucket_bytes) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(t);
    bytes += size;
  }
  return buckets;
}

// Runs `op` on one flat tensor holding the bucket's elements, then copies the result back into the bucket. Gloo
// (CPU) has no bf16 or fp16 collectives ("Invalid scalar type"): there `op` gets an fp32 copy, which broadcasts
// exactly and sums with one rounding back to the bucket's dtype.
void OnFlatBucket(const std::vector<torch::Tensor>& bucket, const std::function<void(torch::Tensor&)>& op) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat_parts;
  flat_parts.reserve(bucket.size());
  for (const torch::Tensor& t : bucket) flat_parts.push_back(t.reshape({-1}));
  torch::Tensor flat = torch::cat(flat_parts);
  const bool narrow_on_cpu = flat.device().is_cpu() && (flat.scalar_type() == torch::kBFloat16 ||
                                                        flat.scalar_type() == torch::kHalf);
  if (narrow_on_cpu) flat = flat.to(torch::kFloat);
  op(flat);
  int64_t offset = 0;
  for (const torch::Tensor& t : bucket) {
    t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

// Sums `flat` over the ranks: into every rank's copy when `root` is negative (all-reduce), else into rank root's
// only (reduce; the others' copies are left holding partial sums).
void SumOverRanks(CollectiveBackend& group, const torch::Tensor& flat, int root) {
  std::vector<torch::Tensor> tensors{flat};
  if (root < 0) {
    group.allreduce(tensors)->wait();  // AllreduceOptions default: SUM
    return;
  }
  c10d::ReduceOptions opts;
  opts.rootRank = root;
  group.reduce(tensors, opts)->wait();
}

// The gradients of the trainable `params` that `owners` gives to `root` (all of them when `owners` is empty), in
// order, zero-filled where a parameter has none on this rank so every rank lists the same tensors; their indices
// go to `members` when given.
std::vector<torch::Tensor> GradientsOf(const std::vector<torch::Tensor>& params, const std::vector<int>& owners,
                                       int root, std::vector<size_t>* members = nullptr) {
  std::vector<torch::Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor& p = params[i];
    if (!p.requires_grad() || (!owners.empty() && owners[i] != root)) continue;
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
    if (members != nullptr) members->push_back(i);
  }
  return grads;
}

}  // namespace

absl::Status DataParallel::AllReduceGradients(const std::vector<torch::Tensor>& params) {
  if (!impl_) return absl::OkStatus();
  const std::vector<torch::Tensor> grads = GradientsOf(params, {}, 0);
  return Collective("gradient all-reduce", [&] {
    for (const auto& bucket : Buckets(grads, options_.bucket_bytes))
      OnFlatBucket(bucket, [&](torch::Tensor& flat) { SumOverRanks(*impl_->group, flat, -1); });
  });
}

absl::Status DataParallel::ReduceGradientsToOwners(const std::vector<torch::Tensor>& params,
                                                   const std::vector<int>& owners) {
  if (!impl_) return absl::OkStatus();
  if (owners.size() != params.size()) return absl::InvalidArgumentError("one owner per parameter");
  return Collective("gradient reduce", [&] {
    for (int root = 0; root < world_size_; ++root) {
      for (const auto& bucket : Buckets(GradientsOf(params, owners, root), options_.bucket_bytes))
        OnFlatBucket(bucket, [&](torch::Tensor& flat) { SumOverRanks(*impl_->group, flat, root); });
    }
  });
}

namespace {

// masters[i].grad += sum (fp32, flat or shaped), taking a copy the first time: `sum` may be a view of a bucket.
void AddIntoMasterGrad(const torch::Tensor& master, const torch::Tensor& sum) {
  torch::Tensor shaped = sum.view(master.sizes());
  if (master.grad().defined()) {
    master.mutable_grad().add_(shaped);
  } else {
    master.mutable_grad() = shaped.to(master.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
  }
}

}  // namespace

absl::Status DataParallel::AccumulateGradientsIntoMasters(const std::vector<torch::Tensor>& params,
                                                          const std::vector<torch::Tensor>& masters,
                                                          const std::vector<int>& owners) {
  if (masters.size() != params.size() || (!owners.empty() && owners.size() != params.size()))
    return absl::InvalidArgumentError("one master and one owner (or none at all) per parameter");
  torch::NoGradGuard no_grad;
  absl::Status status = absl::OkStatus();
  if (!impl_) {
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i].grad().defined() && masters[i].defined()) AddIntoMasterGrad(masters[i], params[i].grad());
    }
  } else {
    status = Collective("gradient reduce", [&] {
      // Unsharded: one all-reduce round for every tensor; sharded: a reduce round per owner.
      for (int root = 0; root < (owners.empty() ? 1 : world_size_); ++root) {
        std::vector<size_t> members;
        const std::vector<torch::Tensor> grads = GradientsOf(params, owners, root, &members);
        size_t next = 0;  // Buckets keeps the order of `grads`, so members[next] is the bucket's first tensor
        for (const auto& bucket : Buckets(grads, options_.bucket_bytes)) {
          std::vector<torch::Tensor> parts;
          for (const torch::Tensor& g : bucket) parts.push_back(g.reshape({-1}).to(torch::kFloat));
          const torch::Tensor flat = torch::cat(parts);
          SumOverRanks(*impl_->group, flat, owners.empty() ? -1 : root);
          int64_t offset = 0;
          for (const torch::Tensor& g : bucket) {
            const torch::Tensor& master = masters[members[next++]];
            if (master.defined()) AddIntoMasterGrad(master, flat.narrow(0, offset, g.numel()));
            offset += g.numel();
          }
        }
      }
    });
  }
  for (const torch::Tensor& p : params) p.mutable_grad() = torch::Tensor();
  return status;
}

absl::Status DataParallel::Broadcast(const std::vector<torch::Tensor>& tensors, int root) {
  if (root < 0 || root >= world_size_) return absl::InvalidArgumentError(absl::StrCat("broadcast root ", root));
  if (!impl_) return absl::OkStatus();
  return Collective("broadcast", [&] {
    for (const auto& bucket : Buckets(tensors, options_.bucket_bytes)) {
      OnFlatBucket(bucket, [&](torch::Tensor& flat) {
        std::vector<torch::Tensor> list{flat};
        c10d::BroadcastOptions opts;
        opts.rootRank = root;
        impl_->group->broadcast(list, opts)->wait();
      });
    }
  });
}

absl::Status DataParallel::Barrier() {
  if (!impl_) return absl::OkStatus();
  return Collective("barrier", [&] {
    c10d::BarrierOptions opts;
    // NCCL's barrier otherwise guesses the GPU from the rank, which is wrong when LOCAL_RANK picked another one.
    if (device_.is_cuda() && device_.has_index()) opts.device_ids = {device_.index()};
    impl_->group->barrier(opts)->wait();
  });
}

}  // namespace distill::trainer
