// The verbs that need LibTorch run in a second executable, distill-torch, built beside distill. Loading LibTorch
// (about 300 shared libraries with Debian's) costs every process that links it close to half a second at start,
// which `distill build`, `tokenize`, `collect` and the rest should not pay. distill lists these verbs in its help
// and hands their command lines to distill-torch unchanged (execv: same process, same exit status).
#pragma once

#include <array>
#include <string_view>

namespace distill::cli {

struct TorchVerb {
  const char* name;
  const char* description;
  int order;  // position in `distill --help` (see RegisterVerb)
};

inline constexpr TorchVerb kDemoVerb{"demo", "Run the whole pipeline offline on this machine, end to end, with a report",
                                     5};
inline constexpr TorchVerb kTrainVerb{
    "train", "Fine-tune a base model on shards (SFT, LoRA, pretraining) into a run folder", 70};
inline constexpr TorchVerb kEvalVerb{
    "eval", "Evaluate a model (endpoint, HF checkpoint, GGUF) on a benchmark: pass@1, maj@n …", 85};
inline constexpr std::array kTorchVerbs{kDemoVerb, kTrainVerb, kEvalVerb};
// `distill bench train`: a benchmark (tools/cli/bench.h) rather than a verb.
inline constexpr TorchVerb kBenchTrain{"train",
                                       "CPU training tokens/s and peak RSS vs PyTorch eager (HF-style, python3-torch) "
                                       "on the same model, batch and AdamW steps",
                                       0};

inline constexpr const char* kTorchExecutable = "distill-torch";

// Whether this build's distill-torch has the verb whose source file is tools/cli/<file>.cc ("train", "bench_train"):
// distill is compiled with DISTILL_FORWARD_TORCH_VERBS = ",train,eval,demo,bench_train," minus the verbs whose
// libraries were skipped; elsewhere every verb counts as built.
inline bool TorchVerbBuilt(std::string_view file) {
#if defined(DISTILL_FORWARD_TORCH_VERBS)
  const std::string_view built = DISTILL_FORWARD_TORCH_VERBS;
  for (size_t at = built.find(file); at != std::string_view::npos; at = built.find(file, at + 1))
    if (at > 0 && built[at - 1] == ',' && built[at + file.size()] == ',') return true;
  return false;
#else
  static_cast<void>(file);
  return true;
#endif
}

// True when the command line names a torch verb this build has: `distill <verb> …` with <verb> in kTorchVerbs, or
// `distill bench train …`.
inline bool IsTorchCommand(int argc, char** argv) {
  if (argc < 2) return false;
  const std::string_view verb = argv[1];
  for (const TorchVerb& v : kTorchVerbs)
    if (verb == v.name) return TorchVerbBuilt(v.name);
  return verb == "bench" && argc >= 3 && std::string_view(argv[2]) == kBenchTrain.name &&
         TorchVerbBuilt("bench_train");
}

// Replaces this process with distill-torch from this executable's folder, passing argv on; returns only on
// failure, after printing why (and then the exit status to use, 127).
int ExecTorchVerbs(int argc, char** argv);

}  // namespace distill::cli
