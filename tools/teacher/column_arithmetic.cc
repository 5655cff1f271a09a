#include "tools/teacher/column_arithmetic.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace distill::teacher {
namespace {

// Decimal digits of n >= 0, least significant first.
std::vector<int> DigitsFromRight(int64_t n) {
  std::vector<int> digits;
  do {
    digits.push_back(static_cast<int>(n % 10));
    n /= 10;
  } while (n > 0);
  return digits;
}

int DigitAt(const std::vector<int>& digits, size_t i) { return i < digits.size() ? digits[i] : 0; }

std::string Add(int64_t a, int64_t b) {
  std::vector<int> da = DigitsFromRight(a), db = DigitsFromRight(b);
  std::vector<std::string> columns;
  int carry = 0;
  for (size_t i = 0; i < std::max(da.size(), db.size()); ++i) {
    int x = DigitAt(da, i), y = DigitAt(db, i), sum = x + y + carry;
    columns.push_back(absl::StrCat(x, " + ", y, " + ", carry, " = ", sum, ", write ", sum % 10, " carry ", sum / 10, "."));
    carry = sum / 10;
  }
  if (carry) columns.push_back(absl::StrCat("The carry ", carry, " leads."));
  return absl::StrJoin(columns, " ");
}

std::string Subtract(int64_t a, int64_t b) {
  std::vector<int> da = DigitsFromRight(a), db = DigitsFromRight(b);
  std::vector<std::string> columns;
  int borrow = 0;
  for (size_t i = 0; i < da.size(); ++i) {
    int x = da[i], y = DigitAt(db, i), diff = x - y - borrow;
    if (diff < 0) {
      columns.push_back(absl::StrCat(x, " - ", y, " - ", borrow, " is negative, borrow: ", x + 10, " - ", y, " - ",
                                     borrow, " = ", diff + 10, ", write ", diff + 10, " borrow 1."));
      borrow = 1;
    } else {
      columns.push_back(absl::StrCat(x, " - ", y, " - ", borrow, " = ", diff, ", write ", diff, " borrow 0."));
      borrow = 0;
    }
  }
  return absl::StrJoin(columns, " ");
}

// A multiplication column states the table fact first and then adds the carry ("7 × 6 = 42, 42 + 4 = 46"), as
// people say it: a student then learns the 64 products and small additions instead of ~650 fused "x × d + c" facts.
std::string ProductFact(int64_t x, int64_t d, int64_t carry) {
  const int64_t product = x * d;
  return absl::StrCat(x, " × ", d, " = ", product, ", ", product, " + ", carry, " = ", product + carry);
}

std::string MultiplyByDigit(int64_t a, int64_t d) {
  std::vector<std::string> columns;
  int64_t carry = 0;
  for (int x : DigitsFromRight(a)) {
    const int64_t total = x * d + carry;
    columns.push_back(absl::StrCat(ProductFact(x, d, carry), ", write ", total % 10, " carry ", total / 10, "."));
    carry = total / 10;
  }
  if (carry) columns.push_back(absl::StrCat("The carry ", carry, " leads."));
  return absl::StrJoin(columns, " ");
}

}  // namespace

std::vector<std::string> OneColumnFacts() {
  std::set<std::string> facts;
  for (int x = 0; x <= 9; ++x) {
    for (int y = 0; y <= 9; ++y) {
      for (int c = 0; c <= 1; ++c) {
        facts.insert(absl::StrCat(x, " + ", y, " + ", c, " = ", x + y + c));
        const int top = x - y - c < 0 ? x + 10 : x;  // Subtract's borrow: the column works with x + 10
        facts.insert(absl::StrCat(top, " - ", y, " - ", c, " = ", top - y - c));
      }
    }
  }
  for (int d = 2; d <= 9; ++d) {
    for (int x = 0; x <= 9; ++x) {
      facts.insert(absl::StrCat(x, " × ", d, " = ", x * d));
      for (int carry = 0; carry < d; ++carry)  // a carry into a column of × d is at most d - 1
        facts.insert(absl::StrCat(x * d, " + ", carry, " = ", x * d + carry));
    }
  }
  return {facts.begin(), facts.end()};
}

std::string ColumnWork(const SolutionStep& step) {
  if (!step.lhs.IsInteger() || !step.rhs.IsInteger() || step.lhs.num < 0 || step.rhs.num < 0) return "";
  int64_t a = step.lhs.num, b = step.rhs.num;
  // Keep the columns short enough to read: operands up to 18 digits never overflow a column sum.
  switch (step.op) {
    case '+':
      return std::max(a, b) >= 10 ? Add(a, b) : "";
    case '-':
      return a >= b && a >= 10 ? Subtract(a, b) : "";
    case '*':
      if (b >= 2 && b <= 9 && a >= 10) return MultiplyByDigit(a, b);
      if (a >= 2 && a <= 9 && b >= 10) return MultiplyByDigit(b, a);
      return "";
    default:
      return "";
  }
}

}  // namespace distill::teacher
