// How a verb plugs into the distill executable: each tools/cli/<verb>.cc registers itself with
// DISTILL_REGISTER_VERB, adding its flags to its subcommand and returning the function that runs it.
#pragma once

#include <cstdlib>
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

// CLI11 checks for numeric flags whose errors read "--row: expected 0 or more, got -1" (CLI11's own
// NonNegativeNumber and PositiveNumber print the whole of DBL_MAX). Text that is not a number passes through to
// the option's conversion, which reports it.
inline CLI::Validator AtLeastCheck(double lo, bool inclusive, const std::string& expected, const std::string& name) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return {};
        return (inclusive ? v >= lo : v > lo) ? std::string() : "expected " + expected + ", got " + text;
      },
      name, name);
}
inline const CLI::Validator kNonNegative = AtLeastCheck(0, true, "0 or more", "NONNEGATIVE");
inline const CLI::Validator kPositive = AtLeastCheck(0, false, "more than 0", "POSITIVE");

}  // namespace distill::cli

#define DISTILL_REGISTER_VERB(ident, name, description, order, setup) \
  static const bool distill_verb_registered_##ident = ::distill::cli::RegisterVerb(name, description, order, setup)
