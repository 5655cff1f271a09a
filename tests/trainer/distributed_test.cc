// Data parallel on c10d (Gloo on the CPU): torchrun environment parsing, and two real ranks — this binary
// re-executed as two child processes with RANK/WORLD_SIZE/MASTER_* set — running collectives and a short
// data-parallel training that must match one process training on the whole batch.
#include "trainer/distributed.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/remove_tree.h"

extern char** environ;

namespace distill::trainer {
namespace {

constexpr const char* kChildEnv = "DISTILL_DIST_TEST_CHILD";

EnvLookup MapLookup(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Environment parsing.

// Property: no torchrun variables means one process, rank 0.
TEST(DistEnv, AbsentMeansSingleProcess) {
  auto env = ParseDistEnv(MapLookup({}));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->world_size, 1);
  EXPECT_EQ(env->rank, 0);
  EXPECT_EQ(env->local_rank, 0);
}

// Property: a full torchrun environment is read field by field.
TEST(DistEnv, ParsesTorchrunVariables) {
  auto env = ParseDistEnv(MapLookup(
      {{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29500"}}));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 8);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "node0");
  EXPECT_EQ(env->master_port, 29500);
  EXPECT_FALSE(env->use_agent_store);
}

// Property: torchrun's agent-store flag and restart count are read (all ranks then connect as clients).
TEST(DistEnv, ReadsTorchelasticAgentStore) {
  auto env = ParseDistEnv(MapLookup({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "5"},
                                     {"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"TORCHELASTIC_RESTART_COUNT", "2"}}));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_TRUE(env->use_agent_store);
  EXPECT_EQ(env->restart_count, 2);
  EXPECT_EQ(env->local_rank, 0);
}

// Property: every malformed or missing value is rejected with an error naming the variable.
TEST(DistEnv, MalformedValuesNameTheVariable) {
  const std::map<std::string, std::string> good = {
      {"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "1234"}};
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"WORLD_SIZE", "two"}, {"WORLD_SIZE", "0"},     {"RANK", "2"},           {"RANK", "-1"},
      {"RANK", "1x"},        {"LOCAL_RANK", "9"},     {"MASTER_PORT", "70000"}, {"MASTER_PORT", "port"},
      {"RANK", ""},          {"MASTER_ADDR", ""},     {"MASTER_PORT", ""}};
  for (const auto& [name, value] : bad) {
    auto vars = good;
    if (value.empty()) {
      vars.erase(name);
    } else {
      vars[name] = value;
    }
    auto env = ParseDistEnv(MapLookup(vars));
    ASSERT_FALSE(env.ok()) << name << "=" << value;
    EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(env.status().message().find(name), std::string::npos) << env.status();
  }
}

// Property: with one process there is no process group and every collective leaves its input as it was.
TEST(DataParallel, WorldOfOneIsNoOp) {
  auto dp = DataParallel::Init(DistEnv{}, torch::kCPU);
  ASSERT_TRUE(dp.ok()) << dp.status();
  EXPECT_TRUE((*dp)->is_main());
  EXPECT_EQ(*(*dp)->AllReduceSum(2.5), 2.5);
  EXPECT_EQ(*(*dp)->AllReduceSum(int64_t{7}), 7);
  torch::Tensor w = torch::ones({3}, torch::requires_grad());
  w.mutable_grad() = torch::full({3}, 2.0);
  ASSERT_TRUE((*dp)->AllReduceGradients({w}).ok());
  ASSERT_TRUE((*dp)->Broadcast({w}).ok());
  ASSERT_TRUE((*dp)->Barrier().ok());
  EXPECT_TRUE(torch::equal(w.grad(), torch::full({3}, 2.0)));
}

// A loopback port free at the time of the call.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// Property: a real process group over one rank (Gloo on the CPU; NCCL on a CUDA device where there is one) runs
// every collective the trainer uses, across buckets and dtypes, and a sum over one rank is the identity. A one-GPU
// machine can run no second NCCL rank (NCCL refuses two ranks on one device), so this is the NCCL path's check.
TEST(DataParallel, OneRankGroupRunsEveryCollective) {
  std::vector<torch::Device> devices = {torch::kCPU};
  if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA, 0);
  for (const torch::Device& device : devices) {
    SCOPED_TRACE(device.str());
    if (!DataParallel::HasBackend(device)) {
      std::printf("skipping %s: this build has no process group backend for it\n", device.str().c_str());
      continue;
    }
    DistEnv env{.rank = 0, .world_size = 1, .local_rank = 0, .master_addr = "127.0.0.1", .master_port = FreePort()};
    DataParallelOptions options;
    options.bucket_bytes = 64;
    options.timeout = std::chrono::seconds(60);
    options.group_for_one_rank = true;
    auto dp = DataParallel::Init(env, device, options);
    ASSERT_TRUE(dp.ok()) << dp.status();
    EXPECT_EQ(*(*dp)->AllReduceSum(2.5), 2.5);
    EXPECT_EQ(*(*dp)->AllReduceSum(int64_t{7}), 7);
    auto on = [&](torch::Dtype dtype) { return torch::TensorOptions().dtype(dtype).device(device); };
    torch::Tensor a = torch::zeros({5, 7}, on(torch::kFloat)).requires_grad_(true);
    torch::Tensor b = torch::zeros({4}, on(torch::kDouble)).requires_grad_(true);
    torch::Tensor c = torch::zeros({3}, on(torch::kFloat)).requires_grad_(true);  // no gradient: becomes zeros
    a.mutable_grad() = torch::arange(35, on(torch::kFloat)).view({5, 7});
    b.mutable_grad() = torch::arange(4, on(torch::kDouble)) * 0.5;
    ASSERT_TRUE((*dp)->AllReduceGradients({a, b, c}).ok());
    EXPECT_TRUE(torch::equal(a.grad().cpu(), torch::arange(35, torch::kFloat).view({5, 7})));
    EXPECT_TRUE(torch::equal(b.grad().cpu(), torch::arange(4, torch::kDouble) * 0.5));
    EXPECT_TRUE(torch::equal(c.grad().cpu(), torch::zeros({3})));
    torch::Tensor x = torch::full({9, 3}, 10.0f, on(torch::kFloat));
    ASSERT_TRUE((*dp)->Broadcast({x, b.detach()}).ok());
    EXPECT_TRUE(torch::equal(x.cpu(), torch::full({9, 3}, 10.0f)));
    EXPECT_TRUE((*dp)->Barrier().ok());
  }
}

// Property: a rank whose peers never arrive fails with a status naming the rendezvous, instead of hanging.
TEST(DataParallel, MissingPeersTimeOut) {
  if (!DataParallel::HasBackend(torch::kCPU)) GTEST_SKIP() << "no Gloo in this build (no gloo headers)";
  // A port nobody serves.
  DistEnv env{.rank = 1, .world_size = 2, .local_rank = 1, .master_addr = "127.0.0.1", .master_port = FreePort()};
  DataParallelOptions options;
  options.timeout = std::chrono::milliseconds(1500);
  auto dp = DataParallel::Init(env, torch::kCPU, options);
  ASSERT_FALSE(dp.ok());
  EXPECT_NE(dp.status().message().find("rendezvous"), std::string::npos) << dp.status();
}

// ---------------------------------------------------------------------------------------------------------------
// Two ranks. The parent test spawns this binary twice with kChildEnv set; the child tests below only run there.

// Runs `test` (a gtest filter) in `world` child processes; returns each rank's exit code and output.
std::vector<std::pair<int, std::string>> RunRanks(const std::string& test, int world) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const int port = FreePort();
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("distill_dist_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::vector<pid_t> pids;
  std::vector<std::string> logs;
  for (int rank = 0; rank < world; ++rank) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      const std::string key = kv.substr(0, kv.find('='));
      if (key != "RANK" && key != "LOCAL_RANK" && key != "WORLD_SIZE" && key != "MASTER_ADDR" && key != "MASTER_PORT")
        env.push_back(kv);
    }
    for (const std::string& kv : {"RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank),
                                  "WORLD_SIZE=" + std::to_string(world), std::string("MASTER_ADDR=127.0.0.1"),
                                  "MASTER_PORT=" + std::to_string(port), std::string(kChildEnv) + "=1"})
      env.push_back(kv);
    std::vector<std::string> args = {self, "--gtest_filter=" + test};
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    logs.push_back((dir / ("rank" + std::to_string(rank) + ".log")).string());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, logs.back().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    pids.push_back(pid);
  }
  std::vector<std::pair<int, std::string>> results;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    while (waitpid(pids[i], &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        for (pid_t p : pids) kill(p, SIGKILL);
        waitpid(pids[i], &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::ifstream in(logs[i]);
    std::stringstream text;
    text << in.rdbuf();
    results.emplace_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text.str());
  }
  EXPECT_TRUE(data::RemoveTree(dir.string()).ok());  // not remove_all: see data/remove_tree.h
  return results;
}

void ExpectRanksPass(const std::string& test) {
  if (!DataParallel::HasBackend(torch::kCPU)) GTEST_SKIP() << "no Gloo in this build (no gloo headers)";
  auto results = RunRanks(test, 2);
  for (size_t r = 0; r < results.size(); ++r) {
    EXPECT_EQ(results[r].first, 0) << "rank " << r << " output:\n" << results[r].second;
    EXPECT_NE(results[r].second.find("[  PASSED  ] 1 test"), std::string::npos) << results[r].second;
  }
}

// Property: on two real ranks, scalar and bucketed gradient sums, broadcast and barrier give the exact sums.
TEST(DataParallelTwoRanks, Collectives) { ExpectRanksPass("DistChild.Collectives"); }
// Property: 3 data-parallel steps on half batches (SUM all-reduce, global token normalisation) equal 3 steps of
// one process on the whole batch.
TEST(DataParallelTwoRanks, TrainingMatchesOneProcess) { ExpectRanksPass("DistChild.TrainingMatchesOneProcess"); }

std::unique_ptr<DataParallel> ChildInit(int64_t bucket_bytes) {
  auto env = DistEnvFromEnvironment();
  EXPECT_TRUE(env.ok()) << env.status();
  DataParallelOptions options;
  options.bucket_bytes = bucket_bytes;
  options.timeout = std::chrono::seconds(30);
  auto dp = DataParallel::Init(*env, torch::kCPU, options);
  EXPECT_TRUE(dp.ok()) << dp.status();
  return dp.ok() ? std::move(*dp) : nullptr;
}

TEST(DistChild, Collectives) {
  if (std::getenv(kChildEnv) == nullptr) GTEST_SKIP() << "runs as a child of DataParallelTwoRanks";
  auto dp = ChildInit(64);  // 64-byte buckets: the float tensors below span several buckets
  ASSERT_NE(dp, nullptr);
  const int r = dp->rank();
  ASSERT_EQ(dp->world_size(), 2);
  EXPECT_EQ(dp->is_main(), r == 0);

  EXPECT_EQ(*dp->AllReduceSum(r + 1.5), 4.0);
  EXPECT_EQ(*dp->AllReduceSum(int64_t{(r + 1) * 10}), 30);

  // Mixed sizes and dtypes; `a` is larger than one bucket; `nograd` has no gradient on rank 1 (counts as zeros);
  // `frozen` is not trainable and must be left alone.
  auto param = [](std::vector<int64_t> shape, torch::Dtype dtype) {
    return torch::zeros(shape, torch::TensorOptions().dtype(dtype)).requires_grad_(true);
  };
  torch::Tensor a = param({5, 7}, torch::kFloat), b = param({3}, torch::kFloat), c = param({4}, torch::kDouble),
                d = param({2, 2}, torch::kFloat), nograd = param({6}, torch::kFloat);
  torch::Tensor frozen = torch::zeros({2});
  frozen.mutable_grad() = torch::full({2}, 5.0);
  const double scale = r + 1;  // rank 0 contributes 1×, rank 1 2×: the sum is 3×
  for (torch::Tensor* t : {&a, &b, &c, &d}) {
    t->mutable_grad() = torch::arange(t->numel(), t->options()).view(t->sizes()) * scale;
  }
  if (r == 0) nograd.mutable_grad() = torch::ones({6});
  ASSERT_TRUE(dp->AllReduceGradients({a, b, frozen, c, nograd, d}).ok());
  for (torch::Tensor* t : {&a, &b, &c, &d}) {
    EXPECT_TRUE(torch::equal(t->grad(), torch::arange(t->numel(), t->grad().options()).view(t->sizes()) * 3))
        << t->grad();
  }
  EXPECT_TRUE(torch::equal(nograd.grad(), torch::ones({6})));
  EXPECT_TRUE(torch::equal(frozen.grad(), torch::full({2}, 5.0)));

  // Broadcast: every rank ends with rank 0's values, across buckets and dtypes.
  torch::Tensor x = torch::full({9, 3}, static_cast<float>(r + 10)), y = torch::full({5}, r + 20.0, torch::kDouble);
  ASSERT_TRUE(dp->Broadcast({x, y}).ok());
  EXPECT_TRUE(torch::equal(x, torch::full({9, 3}, 10.0f)));
  EXPECT_TRUE(torch::equal(y, torch::full({5}, 20.0, torch::kDouble)));
  EXPECT_TRUE(dp->Barrier().ok());
}

// A tiny regression "model" with a per-token mask: loss = Σ mask·‖f(x) − y‖² / (global mask count).
struct Net : torch::nn::Module {
  Net() {
    l1 = register_module("l1", torch::nn::Linear(8, 16));
    l2 = register_module("l2", torch::nn::Linear(16, 4));
  }
  torch::Tensor forward(const torch::Tensor& x) { return l2(torch::tanh(l1(x))); }
  torch::nn::Linear l1{nullptr}, l2{nullptr};
};

// Runs 3 AdamW steps on rows [begin, end) of the global batch; `dp` null means one process.
std::vector<torch::Tensor> Train(Net& net, int64_t begin, int64_t end, DataParallel* dp) {
  torch::manual_seed(99);
  const torch::Tensor x = torch::randn({10, 8}), y = torch::randn({10, 4});
  const torch::Tensor mask = torch::tensor({1, 1, 0, 1, 0, 1, 1, 1, 0, 1}, torch::kFloat);  // uneven per half
  torch::optim::AdamW opt(net.parameters(), torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    const torch::Tensor xs = x.slice(0, begin, end), ys = y.slice(0, begin, end), ms = mask.slice(0, begin, end);
    int64_t tokens = ms.sum().item<int64_t>();
    if (dp != nullptr) tokens = *dp->AllReduceSum(tokens);
    const torch::Tensor loss = ((net.forward(xs) - ys).pow(2).sum(1) * ms).sum() / static_cast<double>(tokens);
    loss.backward();
    if (dp != nullptr) {
      EXPECT_TRUE(dp->AllReduceGradients(net.parameters()).ok());
    }
    opt.step();
  }
  std::vector<torch::Tensor> out;
  for (const auto& p : net.parameters()) out.push_back(p.detach().clone());
  return out;
}

TEST(DistChild, TrainingMatchesOneProcess) {
  if (std::getenv(kChildEnv) == nullptr) GTEST_SKIP() << "runs as a child of DataParallelTwoRanks";
  auto dp = ChildInit(256);  // small buckets: several per step
  ASSERT_NE(dp, nullptr);
  // Ranks start from different weights; the broadcast must make them rank 0's (seed 1).
  torch::manual_seed(1 + dp->rank());
  Net net;
  ASSERT_TRUE(dp->Broadcast(net.parameters()).ok());
  const int64_t half = 5;
  std::vector<torch::Tensor> parallel = Train(net, dp->rank() * half, (dp->rank() + 1) * half, dp.get());

  torch::manual_seed(1);
  Net reference;
  std::vector<torch::Tensor> single = Train(reference, 0, 2 * half, nullptr);
  ASSERT_EQ(parallel.size(), single.size());
  for (size_t i = 0; i < single.size(); ++i) {
    EXPECT_TRUE(torch::allclose(parallel[i], single[i], /*rtol=*/0, /*atol=*/1e-6))
        << "parameter " << i << " max diff " << (parallel[i] - single[i]).abs().max().item<double>();
    // The weights moved: a no-op optimiser would pass the comparison trivially.
  }
  torch::manual_seed(1);
  Net initial;
  EXPECT_GT((single[0] - initial.parameters()[0]).abs().max().item<double>(), 1e-3);
}

}  // namespace
}  // namespace distill::trainer
