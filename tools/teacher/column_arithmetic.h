// Digit-by-digit working of one arithmetic step, the way a careful solver (and R1) writes long addition,
// subtraction and multiplication by one digit: every column with its carry or borrow, so a small student can
// learn the algorithm from the trace instead of memorising sums.
#pragma once

#include <string>
#include <vector>

#include "tools/teacher/problems.h"

namespace distill::teacher {

// The column working of `step`, e.g. for 347 + 29:
//   "7 + 9 + 0 = 16, write 6 carry 1. 4 + 2 + 1 = 7, write 7 carry 0. 3 + 0 + 0 = 3, write 3 carry 0."
// Applies to integer steps with non-negative operands: a + b and a - b (a >= b) where a number has two or more
// digits, and a × d or d × a with one single-digit factor d >= 2 and a >= 10. "" for any other step.
std::string ColumnWork(const SolutionStep& step);

// Every one-column fact ColumnWork can state, in its wording and without the write/carry tail: the sums
// "x + y + c = s" (carry c of 0 or 1), the differences "x - y - b = d" and, after a borrow, "1x - y - b = d", the
// products "x × d = p" (d of 2…9) and the carry additions "p + c = s" that follow them. Sorted, no repeats.
std::vector<std::string> OneColumnFacts();

}  // namespace distill::teacher
