// Run configuration: YAML file + dotted overrides against a verb's schema; validation errors; resolved output.
#include "tools/config/config.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace distill::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

Schema TestSchema() {
  return Schema{"test",
                {
                    RequiredKey("model.path", ValueType::kPath, "base model folder"),
                    Key("model.name", ValueType::kString, std::string("student"), "display name"),
                    Key("train.lr", ValueType::kFloat, 2e-5, "peak learning rate", OpenClosed(0, 1)),
                    Key("train.epochs", ValueType::kInt, int64_t{3}, "number of epochs", AtLeast(1, "whole passes")),
                    Key("train.bf16", ValueType::kBool, true, "train in bfloat16"),
                    EnumKey("train.schedule", {"cosine", "linear", "constant"}, "cosine", "learning-rate schedule"),
                    Key("data.files", ValueType::kPathList, std::vector<std::string>{}, "input JSONL files"),
                    Key("data.tags", ValueType::kStringList, std::vector<std::string>{"math"}, "record tags"),
                    Key("seed", ValueType::kInt, int64_t{0}, "the one seed"),
                    Key("out.dir", ValueType::kPath, std::string("out"), "output folder"),
                    Key("train.optim.beta1", ValueType::kFloat, 0.9, "Adam beta1"),
                    Key("train.optim.eps", ValueType::kFloat, int64_t{1}, "an int default for a float key"),
                }};
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("distill_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sub");
    cwd_ = fs::current_path();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream out(p, std::ios::binary);
    out << text;
    return p.string();
  }

  absl::StatusOr<Config> Load(const std::optional<std::string>& path, const std::vector<std::string>& overrides) {
    return LoadConfig(TestSchema(), path, overrides);
  }

  // Loads and expects failure; returns the message.
  std::string Error(const std::optional<std::string>& path, const std::vector<std::string>& overrides) {
    auto c = Load(path, overrides);
    EXPECT_FALSE(c.ok());
    return c.ok() ? std::string() : std::string(c.status().message());
  }

  fs::path dir_;
  fs::path cwd_;
};

// Property: with no file, every key takes its schema default (paths resolved against the cwd); required keys
// must come from somewhere.
TEST_F(ConfigTest, Defaults) {
  auto c = Load(std::nullopt, {"model.path=/models/base"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("model.path"), "/models/base");
  EXPECT_EQ(c->GetString("model.name"), "student");
  EXPECT_DOUBLE_EQ(c->GetDouble("train.lr"), 2e-5);
  EXPECT_EQ(c->GetInt("train.epochs"), 3);
  EXPECT_TRUE(c->GetBool("train.bf16"));
  EXPECT_EQ(c->GetString("train.schedule"), "cosine");
  EXPECT_TRUE(c->GetStringList("data.files").empty());
  EXPECT_EQ(c->GetStringList("data.tags"), std::vector<std::string>{"math"});
  EXPECT_EQ(c->GetString("out.dir"), (cwd_ / "out").string());
  EXPECT_DOUBLE_EQ(c->GetDouble("train.optim.eps"), 1.0);
  EXPECT_DOUBLE_EQ(c->GetDouble("train.epochs"), 3.0);  // GetDouble accepts int keys
  EXPECT_EQ(c->Origin("train.lr"), "default");
  EXPECT_EQ(c->Origin("model.path"), "override #1");
  EXPECT_TRUE(c->config_path.empty());
}

// Property: values in the file replace defaults; nested mappings and dotted keys are equivalent; origins name
// file:line:col.
TEST_F(ConfigTest, FileValues) {
  const std::string path = Write("run.yaml",
                                 "model:\n"
                                 "  path: /m\n"
                                 "  name: tiny  # a comment\n"
                                 "train.lr: 1.5e-4\n"
                                 "train:\n"
                                 "  epochs: 7\n"
                                 "  bf16: false\n"
                                 "  schedule: linear\n"
                                 "  optim:\n"
                                 "    beta1: 0.95\n"
                                 "seed: 42\n");
  auto c = Load(path, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("model.path"), "/m");
  EXPECT_EQ(c->GetString("model.name"), "tiny");
  EXPECT_DOUBLE_EQ(c->GetDouble("train.lr"), 1.5e-4);
  EXPECT_EQ(c->GetInt("train.epochs"), 7);
  EXPECT_FALSE(c->GetBool("train.bf16"));
  EXPECT_EQ(c->GetString("train.schedule"), "linear");
  EXPECT_DOUBLE_EQ(c->GetDouble("train.optim.beta1"), 0.95);
  EXPECT_EQ(c->GetInt("seed"), 42);
  EXPECT_EQ(c->Origin("train.epochs"), path + ":6:11");
  EXPECT_EQ(c->config_path, fs::path(path).lexically_normal().string());
}

// Property: an empty file or a file holding only comments gives the defaults.
TEST_F(ConfigTest, EmptyFileGivesDefaults) {
  for (const std::string text : {"", "# nothing here\n", "---\n", "\n\n"}) {
    auto c = Load(Write("empty.yaml", text), {"model.path=/m"});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->GetInt("train.epochs"), 3);
  }
}

// Property: overrides beat the file, and later overrides beat earlier ones; values are YAML scalars.
TEST_F(ConfigTest, OverridesBeatFile) {
  const std::string path = Write("run.yaml", "model: {path: /m, name: a}\ntrain: {lr: 0.1, epochs: 2}\n");
  auto c = Load(path, {"train.lr=2e-5", "train.epochs=5", "train.epochs=6", "model.name='quoted: yes'",
                       "train.bf16=False", "train.schedule=constant"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->GetDouble("train.lr"), 2e-5);
  EXPECT_EQ(c->GetInt("train.epochs"), 6);
  EXPECT_EQ(c->Origin("train.epochs"), "override #3");
  EXPECT_EQ(c->GetString("model.name"), "quoted: yes");
  EXPECT_FALSE(c->GetBool("train.bf16"));
  EXPECT_EQ(c->GetString("train.schedule"), "constant");
  // A string value that is not a YAML scalar is taken verbatim; an empty value is the empty string.
  c = Load(path, {"model.name=a: b", "model.path="});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("model.name"), "a: b");
  EXPECT_EQ(c->GetString("model.path"), "");
  c = Load(path, {"model.name=,"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("model.name"), ",");
}

// Property: list keys take flow sequences on the command line and block or flow sequences in files; a scalar
// is a one-element list; path lists resolve each element.
TEST_F(ConfigTest, ListOverrides) {
  auto c = Load(std::nullopt, {"model.path=/m", "data.files=[a.jsonl,b.jsonl]", "data.tags=[x, 'y, z']"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetStringList("data.files"),
            (std::vector<std::string>{(cwd_ / "a.jsonl").string(), (cwd_ / "b.jsonl").string()}));
  EXPECT_EQ(c->GetStringList("data.tags"), (std::vector<std::string>{"x", "y, z"}));
  c = Load(std::nullopt, {"model.path=/m", "data.tags=solo", "data.files=[]"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetStringList("data.tags"), std::vector<std::string>{"solo"});
  EXPECT_TRUE(c->GetStringList("data.files").empty());

  const std::string path = Write("sub/run.yaml", "model.path: /m\ndata:\n  files:\n    - one.jsonl\n    - /abs/two.jsonl\n");
  c = Load(path, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetStringList("data.files"),
            (std::vector<std::string>{(dir_ / "sub" / "one.jsonl").string(), "/abs/two.jsonl"}));

  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "data.tags=[a, [b]]"}),
              HasSubstr("command-line override #2 'data.tags=[a, [b]]': key 'data.tags': expected a list of strings"));
}

// Property: relative paths in a file resolve against the file's folder, in overrides against the cwd;
// absolute paths stay; results are normalised; empty stays empty (unset).
TEST_F(ConfigTest, PathResolution) {
  const std::string path = Write("sub/run.yaml", "model:\n  path: ../models/base\nout:\n  dir: ./runs/r1\n");
  auto c = Load(path, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("model.path"), (dir_ / "models" / "base").string());
  EXPECT_EQ(c->GetString("out.dir"), (dir_ / "sub" / "runs" / "r1").string());
  c = Load(path, {"out.dir=elsewhere", "model.path=/abs/model"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("out.dir"), (cwd_ / "elsewhere").string());
  EXPECT_EQ(c->GetString("model.path"), "/abs/model");
  c = Load(Write("e.yaml", "model:\n  path: ''\n"), {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("model.path"), "");
}

// Property: unknown keys are rejected, naming file:line:col or the override, with a "did you mean".
TEST_F(ConfigTest, UnknownKeyWithSuggestion) {
  const std::string path = Write("run.yaml", "model: {path: /m}\ntrain:\n  lrr: 0.1\n");
  const std::string e = Error(path, {});
  EXPECT_THAT(e, HasSubstr(path + ":3:3: unknown key 'train.lrr' (did you mean 'train.lr'?)"));

  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "trian.lr=1"}),
              HasSubstr("command-line override #2 'trian.lr=1': unknown key 'trian.lr' (did you mean 'train.lr'?)"));
  // The right name in the wrong section.
  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "lr=1"}), HasSubstr("did you mean 'train.lr'?"));
  // Nothing close: no suggestion.
  const std::string far = Error(std::nullopt, {"model.path=/m", "completely.different=1"});
  EXPECT_THAT(far, HasSubstr("unknown key 'completely.different'"));
  EXPECT_EQ(far.find("did you mean"), std::string::npos);
  // An unknown section.
  EXPECT_THAT(Error(Write("s.yaml", "modle:\n  path: /m\n"), {}), HasSubstr("unknown key 'modle' (did you mean 'model'?)"));
  // A section given a scalar, and an override naming a section.
  EXPECT_THAT(Error(Write("t.yaml", "model.path: /m\ntrain: 5\n"), {}),
              HasSubstr(":2:1: 'train' is a section (keys train.lr"));
  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "train={lr: 1}"}), HasSubstr("'train' is a section"));
  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "novalue"}),
              HasSubstr("command-line override #2 'novalue': expected key=value"));
}

// Property: a value of the wrong type names the key, the file and line:column of the value (or the override).
TEST_F(ConfigTest, BadTypeNamesFileLineCol) {
  const std::string path = Write("run.yaml", "model:\n  path: /m\ntrain:\n  lr: abc\n  epochs: 1.5\n  bf16: maybe\n");
  const std::string e = Error(path, {});
  EXPECT_THAT(e, HasSubstr(path + ":4:7: key 'train.lr': expected a float, got \"abc\""));
  EXPECT_THAT(e, HasSubstr(path + ":5:11: key 'train.epochs': expected an int, got \"1.5\""));
  EXPECT_THAT(e, HasSubstr(path + ":6:9: key 'train.bf16': expected a bool (true or false), got \"maybe\""));

  EXPECT_THAT(Error(path, {"train.lr=1", "train.lr=abc"}),
              HasSubstr("command-line override #2 'train.lr=abc': key 'train.lr': expected a float, got \"abc\""));
  EXPECT_THAT(Error(Write("m.yaml", "model:\n  path: [a, b]\n"), {}),
              HasSubstr("m.yaml:2:9: key 'model.path': expected a string, got a sequence"));
  EXPECT_THAT(Error(Write("n.yaml", "model.path: /m\ntrain:\n  lr: .inf\n"), {}), HasSubstr("expected a float"));
  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "seed=99999999999999999999"}), HasSubstr("expected an int"));
  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "train.epochs="}), HasSubstr("expected an int, got null"));
}

// Property: a required key missing from file and overrides is an error naming the key.
TEST_F(ConfigTest, MissingRequired) {
  EXPECT_THAT(Error(std::nullopt, {}), HasSubstr("missing required key 'model.path' (base model folder)"));
  const std::string path = Write("run.yaml", "train: {lr: 0.1}\n");
  EXPECT_THAT(Error(path, {}), HasSubstr(path + ": missing required key 'model.path'"));
}

// Property: enum keys accept only their allowed values; the error lists them.
TEST_F(ConfigTest, EnumValues) {
  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "train.schedule=step"}),
              HasSubstr("key 'train.schedule': expected one of cosine, linear, constant, got \"step\""));
  EXPECT_THAT(Error(Write("run.yaml", "model.path: /m\ntrain.schedule: Cosine\n"), {}),
              HasSubstr("run.yaml:2:17: key 'train.schedule': expected one of cosine, linear, constant"));
  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "train.schedule="}), HasSubstr("expected one of"));
}

// Property: duplicate keys are errors, whether repeated in one mapping or spelled nested and dotted.
TEST_F(ConfigTest, DuplicateKeys) {
  std::string path = Write("a.yaml", "model.path: /m\ntrain:\n  lr: 1\n  lr: 2\n");
  EXPECT_THAT(Error(path, {}), HasSubstr(path + ":4:3: duplicate key 'train.lr' (first set at line 3, column 3)"));
  path = Write("b.yaml", "model.path: /m\ntrain.lr: 1\ntrain:\n  lr: 2\n");
  EXPECT_THAT(Error(path, {}), HasSubstr("duplicate key 'train.lr'"));
  path = Write("c.yaml", "model: {path: /m}\nmodel: {name: x}\n");
  EXPECT_THAT(Error(path, {}), HasSubstr(path + ":2:1: duplicate key 'model'"));
}

// Property: malformed YAML (truncated at any byte, tabs, garbage, deep nesting, several documents, wrong top
// level) gives ok or an error naming the file, and never crashes or throws.
TEST_F(ConfigTest, MalformedYamlNeverCrashes) {
  const std::string good =
      "# run\nmodel:\n  path: \"/m\"\n  name: 'a b'\ntrain: {lr: 1e-3, epochs: 2, schedule: linear}\n"
      "data:\n  files: [x.jsonl, \"y.jsonl\"]\n  tags:\n    - a\n    - b\nseed: 7\n";
  ASSERT_TRUE(Load(Write("good.yaml", good), {}).ok());
  for (size_t cut = 0; cut <= good.size(); ++cut) {
    const std::string path = Write("cut.yaml", good.substr(0, cut));
    auto c = Load(path, {"model.path=/fallback"});
    if (!c.ok()) {
      EXPECT_THAT(std::string(c.status().message()), HasSubstr(path)) << cut;
    }
  }
  const std::vector<std::string> bad = {
      "model:\n\tpath: /m\n",                   // tab indentation
      "model:\n  path: /m\n\ttrain: 1\n",       // tab in the middle
      "model: {path: /m\n",                     // unclosed flow mapping
      "model: [\n",                             // unclosed flow sequence
      "model:\n  path: \"unterminated\n",       // unterminated string
      "key: value\n  - nested: bad\n",          // bad indentation
      "- a\n- b\n",                             // top level sequence
      "just a scalar\n",                        // top level scalar
      "model.path: /m\n---\nseed: 1\n",         // two documents
      std::string(100000, '['),                 // deep flow nesting
      std::string(100000, '{'),                 // deep flow nesting
      "a: &x [1]\nb: *x\nc: *undefined\n",      // unknown alias
      std::string("\xff\xfe\x00\x01garbage\x80\x81", 12),
      "? [complex, key]\n: value\n",            // non-scalar key
      "model:\n  path: !!binary aGVsbG8=\n",    // a tag
      "%YAML 9.9\n---\nmodel.path: /m\n",       // directives
      "model: !<tag:yaml.org,2002:str> {path: 1}\n",
      ",\n",                                    // yaml-cpp 0.7's LoadAll loops forever on this
      ",# ru\nmodel:\n  path: \"/m\"\n",
      "[:", "{:", "[[:", "{!\xdb:",               // old yaml-cpp scanner loops
      "- !+(.,.)",
      "mo&e: }*a\n",
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string path = Write("bad.yaml", bad[i]);
    auto c = Load(path, {});
    if (!c.ok()) {
      EXPECT_THAT(std::string(c.status().message()), HasSubstr(path)) << i;
    }
  }
  // Random edits of a valid file with YAML's structural characters (deterministic).
  const std::string alphabet = std::string("[]{}:,-?|>!&*#'\"\t\n %@`\\.~\xff", 26) + std::string(1, '\0');
  uint32_t state = 12345;
  const auto next = [&state] {
    state = state * 1103515245u + 12345u;
    return state >> 8;
  };
  for (int iteration = 0; iteration < 1500; ++iteration) {
    std::string text = good;
    for (uint32_t edits = 1 + next() % 4; edits > 0; --edits) {
      const size_t pos = next() % (text.size() + 1);
      const char c = alphabet[next() % alphabet.size()];
      const uint32_t op = next() % 3;
      if (op == 0) {
        text.insert(pos, 1, c);
      } else if (pos < text.size()) {
        if (op == 1) {
          text[pos] = c;
        } else {
          text.erase(pos, 1);
        }
      }
    }
    const std::string path = Write("fuzz.yaml", text);
    auto c = Load(path, {"model.path=/fallback"});
    if (!c.ok()) {
      ASSERT_THAT(std::string(c.status().message()), HasSubstr(path)) << text;
    } else {
      ToYaml(*c);
    }
  }
  EXPECT_FALSE(Load(Write("seq.yaml", "- a\n"), {"model.path=/m"}).ok());
  EXPECT_THAT(Error(Write("two.yaml", "model.path: /m\n---\nseed: 1\n"), {}), HasSubstr("one YAML document"));
  EXPECT_THAT(Error(Write("deep.yaml", std::string(1000, '[')), {}), HasSubstr("malformed YAML"));
  // Overrides with malformed values.
  for (const std::string& o : std::vector<std::string>{"seed=,", "data.tags=,", "seed=[", "seed={", "data.tags=[a,", "seed=" + std::string(100000, '['), "seed=\"x"}) {
    auto c = Load(std::nullopt, {"model.path=/m", o});
    EXPECT_FALSE(c.ok()) << o;
    if (!c.ok()) {
      EXPECT_THAT(std::string(c.status().message()), HasSubstr("command-line override #2"));
    }
  }
  // Missing file, folder.
  auto c = Load((dir_ / "missing.yaml").string(), {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("missing.yaml"));
  EXPECT_FALSE(Load(dir_.string(), {}).ok());
}

// Property: a number outside its key's range is refused where it was written (the file's line:column, or the
// override with its text), with the range and the value as written; each bound is exactly as inclusive or
// exclusive as declared; int bounds hold at the ends of int64.
TEST_F(ConfigTest, RangesNameWhereTheValueCameFrom) {
  const std::string path = Write("run.yaml", "model.path: /m\ntrain:\n  lr: 0\n  epochs: 0\n");
  const std::string e = Error(path, {"train.lr=1.5"});
  EXPECT_THAT(e, HasSubstr(path + ":3:7: key 'train.lr': expected 0 < x ≤ 1, got 0\n"));
  EXPECT_THAT(e, HasSubstr(path + ":4:11: key 'train.epochs': expected ≥ 1 (whole passes), got 0\n"));
  EXPECT_THAT(e, HasSubstr("command-line override #1 'train.lr=1.5': key 'train.lr': expected 0 < x ≤ 1, got 1.5"));

  auto c = Load(std::nullopt, {"model.path=/m", "train.lr=1", "train.epochs=1"});  // both inclusive ends
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->GetDouble("train.lr"), 1.0);
  EXPECT_EQ(c->GetInt("train.epochs"), 1);
  EXPECT_TRUE(Load(std::nullopt, {"model.path=/m", "train.lr=5e-324"}).ok());  // the smallest double above 0
  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "train.lr=-0.0"}), HasSubstr("got -0.0"));
  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "train.lr=1.0000000000000002"}), HasSubstr("expected 0 < x ≤ 1"));
  EXPECT_THAT(Error(std::nullopt, {"model.path=/m", "train.epochs=-9223372036854775808"}),
              HasSubstr("key 'train.epochs': expected ≥ 1 (whole passes), got -9223372036854775808"));
  EXPECT_TRUE(Load(std::nullopt, {"model.path=/m", "train.epochs=9223372036854775807"}).ok());
  // Unbounded keys take any value of their type.
  EXPECT_TRUE(Load(std::nullopt, {"model.path=/m", "seed=-9223372036854775808", "train.optim.beta1=-1e300"}).ok());
}

// Property: int values are compared with their bounds as integers, so 2^53 + 1 (which rounds to 2^53 as a double)
// is refused by a bound of 2^53.
TEST_F(ConfigTest, IntBoundsAreExact) {
  const Schema schema{"exact", {Key("n", ValueType::kInt, int64_t{0}, "", Closed(0, 0x1p53))}};
  EXPECT_TRUE(LoadConfig(schema, std::nullopt, {"n=9007199254740992"}).ok());
  auto c = LoadConfig(schema, std::nullopt, {"n=9007199254740993"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("key 'n': expected 0 ≤ x ≤ 9007199254740992, got 9007199254740993"));
}

// Property: the expected-value text reads as mathematics: both bounds around x, one bound as a relation, the note
// in parentheses, integers in full, other numbers in their shortest round-trip form.
TEST(RangeTextTest, ReadsAsMathematics) {
  EXPECT_EQ(RangeText(ClosedOpen(0, 1)), "0 ≤ x < 1");
  EXPECT_EQ(RangeText(OpenClosed(0, 1e6)), "0 < x ≤ 1000000");
  EXPECT_EQ(RangeText(Closed(1, 2147483647, "int")), "1 ≤ x ≤ 2147483647 (int)");
  EXPECT_EQ(RangeText(AtLeast(0, "0 = off")), "≥ 0 (0 = off)");
  EXPECT_EQ(RangeText(Above(0)), "> 0");
  EXPECT_EQ(RangeText(Range{std::nullopt, 1e-8, false, true, ""}), "< 1e-08");
  EXPECT_EQ(RangeText(Closed(-0.5, 1e300)), "-0.5 ≤ x ≤ 1e+300");
  EXPECT_EQ(RangeText(Range{}), "");
}

// Property: ToYaml then LoadConfig (same schema) gives the same values, for awkward strings and floats too;
// the output is deterministic and lists keys in schema order.
TEST_F(ConfigTest, RoundTrip) {
  auto c = Load(std::nullopt, {"model.path=/m o/d\"el", "model.name=line1\nline2: \"q\" 'x' #h\t\u00e9\U0001F600",
                               "train.lr=0.1", "train.optim.beta1=1e-300", "train.optim.eps=3",
                               "seed=-9223372036854775808", "data.tags=[true, '~', '', 'a, b', null-ish, '#']",
                               "data.files=[x.jsonl]", "train.schedule=linear", "train.bf16=false"});
  ASSERT_TRUE(c.ok()) << c.status();
  for (bool docs : {true, false}) {
    const std::string yaml = ToYaml(*c, docs);
    const std::string path = Write("resolved.yaml", yaml);
    auto back = Load(path, {});
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
    ASSERT_EQ(back->values.size(), c->values.size());
    for (size_t i = 0; i < c->values.size(); ++i) {
      EXPECT_EQ(back->values[i], c->values[i]) << c->entries[i].key << "\n" << yaml;
    }
    EXPECT_EQ(ToYaml(*back, docs), yaml);
  }
  const std::string yaml = ToYaml(*c);
  EXPECT_LT(yaml.find("model:"), yaml.find("train:"));
  EXPECT_LT(yaml.find("train:"), yaml.find("data:"));
  EXPECT_THAT(yaml, HasSubstr("# learning-rate schedule (one of: cosine, linear, constant)\n  schedule: \"linear\"\n"));
  EXPECT_THAT(yaml, HasSubstr("  lr: 0.1\n"));
  EXPECT_THAT(yaml, HasSubstr("  optim:\n    # Adam beta1\n    beta1: 1e-300\n"));
  EXPECT_THAT(yaml, HasSubstr("  # peak learning rate; 0 < x ≤ 1\n  lr: 0.1\n"));
  EXPECT_THAT(yaml, HasSubstr("  # number of epochs; ≥ 1\n  epochs: 3\n"));  // the note is the doc's business
  EXPECT_EQ(ToYaml(*c, false).find('#', 0), ToYaml(*c, false).find("#h"));  // no comments without docs
}

// Property: WriteResolvedConfig writes exactly ToYaml through a temp file + rename (no temp left behind);
// a missing folder is an error naming the path.
TEST_F(ConfigTest, WriteResolvedConfig) {
  auto c = Load(std::nullopt, {"model.path=/m"});
  ASSERT_TRUE(c.ok());
  const std::string path = (dir_ / "resolved.yaml").string();
  Write("resolved.yaml", "old contents\n");
  ASSERT_TRUE(WriteResolvedConfig(*c, path).ok());
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), ToYaml(*c));
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) files += entry.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);
  const std::string missing = (dir_ / "no" / "such" / "resolved.yaml").string();
  const absl::Status st = WriteResolvedConfig(*c, missing);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr(missing));
}

// Property: ToJson nests keys by their dots and keeps value types.
TEST_F(ConfigTest, ToJson) {
  auto c = Load(std::nullopt, {"model.path=/m", "data.tags=[a,b]"});
  ASSERT_TRUE(c.ok());
  const nlohmann::json j = ToJson(*c);
  EXPECT_EQ(j["model"]["path"], "/m");
  EXPECT_EQ(j["train"]["epochs"], 3);
  EXPECT_TRUE(j["train"]["epochs"].is_number_integer());
  EXPECT_DOUBLE_EQ(j["train"]["lr"].get<double>(), 2e-5);
  EXPECT_EQ(j["train"]["bf16"], true);
  EXPECT_EQ(j["train"]["optim"]["beta1"], 0.9);
  EXPECT_EQ(j["data"]["tags"], nlohmann::json::array({"a", "b"}));
  EXPECT_EQ(j["seed"], 0);
}

// Property: malformed schemas are reported (programming errors in a verb), not silently accepted.
TEST_F(ConfigTest, SchemaValidation) {
  EXPECT_TRUE(ValidateSchema(TestSchema()).ok());
  const std::vector<Schema> bad = {
      {"dup", {Key("a", ValueType::kInt, int64_t{1}, ""), Key("a", ValueType::kInt, int64_t{2}, "")}},
      {"nest", {Key("a", ValueType::kInt, int64_t{1}, ""), Key("a.b", ValueType::kInt, int64_t{2}, "")}},
      {"type", {Key("a", ValueType::kInt, std::string("x"), "")}},
      {"enum", {EnumKey("a", {"x", "y"}, "z", "")}},
      {"empty_enum", {EnumKey("a", {}, std::nullopt, "")}},
      {"component", {Key("a..b", ValueType::kBool, true, "")}},
      {"chars", {Key("a b", ValueType::kBool, true, "")}},
      {"range_on_string", {Key("a", ValueType::kString, std::string("x"), "", AtLeast(0))}},
      {"empty_range", {Key("a", ValueType::kFloat, 1.0, "", OpenClosed(1, 1))}},
      {"inverted_range", {Key("a", ValueType::kFloat, 0.5, "", Closed(1, 0))}},
      {"default_outside", {Key("a", ValueType::kInt, int64_t{0}, "", AtLeast(1))}},
      {"float_default_outside", {Key("a", ValueType::kFloat, 1.0, "", ClosedOpen(0, 1))}},
      {"fractional_int_bound", {Key("a", ValueType::kInt, int64_t{1}, "", Closed(0.5, 2))}},
      {"huge_int_bound", {Key("a", ValueType::kInt, int64_t{1}, "", Closed(0, 1e19))}},
      {"infinite_bound", {Key("a", ValueType::kFloat, 1.0, "", AtLeast(-HUGE_VAL))}},
  };
  for (const auto& s : bad) {
    const absl::Status st = ValidateSchema(s);
    EXPECT_FALSE(st.ok()) << s.name;
    EXPECT_THAT(std::string(st.message()), HasSubstr("config schema '" + s.name + "'"));
    EXPECT_FALSE(LoadConfig(s, std::nullopt, {}).ok());
  }
}

// Property: getters are total for schema keys of their type; anything else is a loud programming error.
TEST_F(ConfigTest, GettersAbortOnMisuse) {
  auto c = Load(std::nullopt, {"model.path=/m"});
  ASSERT_TRUE(c.ok());
  EXPECT_DEATH(c->GetString("model.pth"), "no such key");
  EXPECT_DEATH(c->GetInt("train.lr"), "the key is a float");
}

}  // namespace
}  // namespace distill::config
