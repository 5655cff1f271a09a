// Files from our writer, read by an independent parser (@huggingface/gguf via tests/reference/gguf_parse.js):
// it must report the keys, value types and values, tensor names, shapes, dtypes and offsets we meant.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/node_reference.h"
#include "tools/gguf/gguf_file.h"

namespace distill::gguf {
namespace {

using nlohmann::json;

// What @huggingface/gguf should print for one scalar (bigints come back as decimal strings).
json Expected(ValueType type, const Scalar& s) {
  switch (type) {
    case ValueType::kU64: return std::to_string(std::get<uint64_t>(s));
    case ValueType::kI64: return std::to_string(std::get<int64_t>(s));
    case ValueType::kU8: case ValueType::kU16: case ValueType::kU32: return std::get<uint64_t>(s);
    case ValueType::kI8: case ValueType::kI16: case ValueType::kI32: return std::get<int64_t>(s);
    case ValueType::kF32: return static_cast<double>(static_cast<float>(std::get<double>(s)));
    case ValueType::kF64: return std::get<double>(s);
    case ValueType::kBool: return std::get<bool>(s);
    case ValueType::kString: return std::get<std::string>(s);
    case ValueType::kArray: break;
  }
  return nullptr;
}

std::vector<float> Gaussian(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

void CheckAgainstReference(uint32_t alignment) {
  SCOPED_TRACE("alignment " + std::to_string(alignment));
  std::vector<std::pair<std::string, Value>> kvs = {
      {"general.architecture", Value::String("qwen2")},
      {"general.name", Value::String("T\xc3\xafny \"model\"\n")},
      {"general.file_type", Value::U32(15)},
      {"general.quantization_version", Value::U32(2)},
      {"qwen2.context_length", Value::U32(32768)},
      {"qwen2.rope.freq_base", Value::F32(1000000.0f)},
      {"qwen2.attention.layer_norm_rms_epsilon", Value::F32(1e-6f)},
      {"t.u8", Value::U8(200)},
      {"t.i8", Value::I8(-7)},
      {"t.u16", Value::U16(60000)},
      {"t.i16", Value::I16(-30000)},
      {"t.i32", Value::I32(-123456789)},
      {"t.u64", Value::U64(18446744073709551615ull)},
      {"t.i64", Value::I64(-9007199254740993ll)},
      {"t.f64", Value::F64(0.1)},
      {"t.bool", Value::Bool(true)},
      {"t.arr.u64", Value::Array(ValueType::kU64, {uint64_t{1}, uint64_t{1} << 60})},
      {"t.arr.f64", Value::Array(ValueType::kF64, {-2.5, 1e-300})},
      {"t.arr.bool", Value::Array(ValueType::kBool, {false, true})},
      {"t.arr.u8", Value::Array(ValueType::kU8, {uint64_t{0}, uint64_t{255}})},
      {"tokenizer.ggml.scores", Value::F32s({0.0f, -1.5f, -0.333333f})},
  };
  if (alignment != kDefaultAlignment) kvs.emplace_back("general.alignment", Value::U32(alignment));
  std::vector<std::string> tokens;
  std::vector<int32_t> token_types;
  for (int i = 0; i < 3000; ++i) {
    tokens.push_back(i % 7 == 0 ? "\xc4\xa0tok" + std::to_string(i) : "<|t" + std::to_string(i) + "|>");
    token_types.push_back(1 + i % 6);
  }
  kvs.emplace_back("tokenizer.ggml.tokens", Value::Strings(tokens));
  kvs.emplace_back("tokenizer.ggml.token_type", Value::I32s(token_types));

  GgufWriter writer;
  for (const auto& [key, value] : kvs) ASSERT_TRUE(writer.AddKv(key, value).ok()) << key;
  const std::vector<TensorSpec> specs = {
      {"token_embd.weight", {512, 6}, GgmlType::kQ6_K},  {"output_norm.weight", {512}, GgmlType::kF32},
      {"blk.0.attn_q.weight", {512, 4}, GgmlType::kQ4_K}, {"blk.0.attn_q.bias", {5}, GgmlType::kF32},
      {"blk.0.attn_v.weight", {256, 3}, GgmlType::kQ5_K}, {"blk.0.ffn_up.weight", {96, 2}, GgmlType::kQ5_0},
      {"blk.0.ffn_down.weight", {64, 3}, GgmlType::kQ8_0}, {"blk.0.ffn_gate.weight", {32, 2}, GgmlType::kQ4_0},
      {"f16", {3, 1, 7}, GgmlType::kF16},                 {"bf16", {2, 2, 2, 2}, GgmlType::kBF16},
  };
  int64_t parameters = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    int64_t elements = 1;
    for (int64_t d : specs[i].ne) elements *= d;
    parameters += elements;
    const TensorSpec spec = specs[i];
    // The filler quantizes at write time, as the exporter will.
    ASSERT_TRUE(writer.AddTensor(spec, [spec, elements, i](std::span<std::byte> out) {
                        const auto values = Gaussian(elements, static_cast<uint32_t>(i));
                        return QuantizeRows(spec.type, values.data(), elements / spec.ne[0], spec.ne[0],
                                            out.data());
                      }).ok());
  }
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("distill-gguf-ref-" + std::to_string(::getpid()) + "-" + std::to_string(alignment) +
                             ".gguf")).string();
  ASSERT_TRUE(writer.Write(path).ok());
  auto ours = GgufFile::Open(path);
  ASSERT_TRUE(ours.ok()) << ours.status();

  const json ref = distill::testing::RunNodeReference("gguf_parse.js", {{"path", path}});
  EXPECT_EQ(ref["version"], 3);
  EXPECT_EQ(ref["tensor_count"], std::to_string(specs.size()));
  EXPECT_EQ(ref["kv_count"], std::to_string(kvs.size()));
  EXPECT_EQ(ref["tensorDataOffset"], std::to_string(ours->data_offset()));
  EXPECT_EQ(ref["parameterCount"], parameters);

  ASSERT_EQ(ref["kvs"].size(), kvs.size());
  for (const auto& [key, value] : kvs) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(ref["kvs"].contains(key));
    const json& entry = ref["kvs"][key];
    EXPECT_EQ(entry["type"], static_cast<uint32_t>(value.type));
    if (value.is_array()) {
      EXPECT_EQ(entry["subType"], static_cast<uint32_t>(value.elem_type));
      ASSERT_EQ(entry["value"].size(), value.items.size());
      for (size_t i = 0; i < value.items.size(); ++i) {
        EXPECT_EQ(entry["value"][i], Expected(value.elem_type, value.items[i])) << "element " << i;
      }
    } else {
      EXPECT_EQ(entry["value"], Expected(value.type, value.items[0]));
    }
  }

  const auto offsets = writer.TensorOffsets();
  ASSERT_EQ(ref["tensorInfos"].size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const json& info = ref["tensorInfos"][i];
    SCOPED_TRACE(specs[i].name);
    EXPECT_EQ(info["name"], specs[i].name);
    EXPECT_EQ(info["n_dims"], specs[i].ne.size());
    std::vector<std::string> shape;
    for (int64_t d : specs[i].ne) shape.push_back(std::to_string(d));
    EXPECT_EQ(info["shape"], shape);
    EXPECT_EQ(info["dtype"], static_cast<uint32_t>(specs[i].type));
    EXPECT_EQ(info["offset"], std::to_string(offsets[i]));
    EXPECT_EQ(info["offset"], std::to_string(ours->tensors()[i].offset));
  }
  std::filesystem::remove(path);
}

TEST(GgufParseReferenceTest, HuggingFaceParserAgrees) {
  CheckAgainstReference(32);
  CheckAgainstReference(64);
}

}  // namespace
}  // namespace distill::gguf
