// What a verb prints for an exception that reached the CLI boundary. LibTorch's c10::Error appends a C++ backtrace
// to what(); users get its message alone.
#pragma once

#include <c10/util/Exception.h>

#include <exception>

namespace distill::cli {

// e.what(), or c10::Error's message without the backtrace. The pointer lives as long as `e`.
inline const char* ExceptionMessage(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  return torch_error != nullptr ? torch_error->what_without_backtrace() : e.what();
}

}  // namespace distill::cli
