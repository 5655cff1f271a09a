// How a verb plugs into the distill executable: each tools/cli/<verb>.cc registers itself with
// DISTILL_REGISTER_VERB, adding its flags to its subcommand and returning the function that runs it.
#pragma once

#include <functional>
#include <string>

#include "CLI/CLI.hpp"

namespace distill::cli {

// Runs a verb after flags are parsed; returns the process exit code.
using VerbRun = std::function<int()>;
// Adds the verb's flags to `cmd` (bound to state the returned runner owns) and returns the runner.
using VerbSetup = std::function<VerbRun(CLI::App& cmd)>;

// Registers a verb; `order` sorts verbs in --help (pipeline order). Returns true so it can initialise a static.
bool RegisterVerb(std::string name, std::string description, int order, VerbSetup setup);

}  // namespace distill::cli

#define DISTILL_REGISTER_VERB(ident, name, description, order, setup) \
  static const bool distill_verb_registered_##ident = ::distill::cli::RegisterVerb(name, description, order, setup)
