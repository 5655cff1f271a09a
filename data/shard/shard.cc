#include "data/shard/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "xxhash.h"

namespace distill::shard {

// Shard files are little-endian; the reader hands out spans straight into the mapping.
static_assert(std::endian::native == std::endian::little, "the shard reader maps little-endian data directly");

namespace {

uint64_t Align(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

std::string ErrnoText() { return std::strerror(errno); }

void PutU32(std::string& out, size_t at, uint32_t v) { std::memcpy(out.data() + at, &v, 4); }
void PutU64(std::string& out, size_t at, uint64_t v) { std::memcpy(out.data() + at, &v, 8); }
uint32_t GetU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// A shard file is written back every this many bytes while the build goes on, so the closing fsync finds little
// left: on a 2-core VM the fsync of a 234 MB file written in one go took 0.14-0.29 s at the very end of a build.
constexpr uint64_t kWritebackBytes = 16 << 20;

// One step of that (on the writer thread): makes the earlier steps' bytes durable (fdatasync; they are on the
// device by now, so it mostly costs the device flush), then starts writeback of [offset, offset + bytes). False
// when the fdatasync fails: Linux reports a write-back error to one fsync only, so it must not be dropped here.
bool WriteBackStep(int fd, uint64_t offset, uint64_t bytes) {
#ifdef __linux__
  if (offset > 0 && ::fdatasync(fd) != 0) return false;
  ::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(bytes), SYNC_FILE_RANGE_WRITE);  // a hint
#else
  (void)fd, (void)offset, (void)bytes;
#endif
  return true;
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open folder ", dir, ": ", ErrnoText()));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync of folder ", dir, ": ", ErrnoText()));
  return absl::OkStatus();
}

std::string ParentOf(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

}  // namespace

uint64_t Xxh64(std::string_view bytes, uint64_t seed) { return XXH64(bytes.data(), bytes.size(), seed); }

std::string Hex64(uint64_t value) { return absl::StrFormat("%016x", value); }

uint64_t RowBytes(uint64_t tokens, uint64_t docs) { return Align(Align(5 * tokens, 4) + 4 * docs, 8); }

nlohmann::json ToJson(const ShardFileInfo& info) {
  return {{"file", info.file},           {"bytes", info.bytes},
          {"rows", info.rows},           {"tokens", info.tokens},
          {"loss_tokens", info.loss_tokens}, {"documents", info.documents},
          {"xxh64", info.xxh64},         {"block_bytes", kChecksumBlockBytes},
          {"block_xxh64", info.block_xxh64}};
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view contents) {
  const std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) return absl::InternalError(absl::StrCat("cannot create ", temp, ": ", ErrnoText()));
  bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
  ok = std::fflush(f) == 0 && ok;
  ok = ::fsync(::fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    const std::string why = ErrnoText();
    std::remove(temp.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", temp, ": ", why));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = ErrnoText();
    std::remove(temp.c_str());
    return absl::InternalError(absl::StrCat("cannot rename ", temp, " to ", path, ": ", why));
  }
  return FsyncDir(ParentOf(path));
}

// ---------------------------------------------------------------------------------------------------------------
// Writer

struct ShardWriter::State {
  FILE* file = nullptr;
  std::string temp, path;
  uint64_t offset = 0;
  uint64_t writeback_from = 0;  // bytes before this offset have been handed to the kernel's writeback
  std::string index;  // kIndexEntryBytes per row
  ShardFileInfo info;
};

ShardWriter::~ShardWriter() {
  if (state_ && state_->file != nullptr) {
    std::fclose(state_->file);
    std::remove(state_->temp.c_str());
  }
}

absl::StatusOr<std::unique_ptr<ShardWriter>> ShardWriter::Create(std::string dir, std::string split,
                                                                 uint32_t seq_len, int32_t pad_id,
                                                                 uint64_t max_file_bytes) {
  if (seq_len == 0) return absl::InvalidArgumentError("shard writer: sequence length must be positive");
  if (split.empty() || split.find_first_of("/\\") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("shard writer: bad split name '", split, "'"));
  }
  std::unique_ptr<ShardWriter> w(new ShardWriter());
  w->dir_ = std::move(dir);
  w->split_ = std::move(split);
  w->seq_len_ = seq_len;
  w->pad_id_ = pad_id;
  w->max_file_bytes_ = max_file_bytes;
  return w;
}

absl::Status ShardWriter::OpenFile() {
  state_ = std::make_unique<State>();
  state_->info.file = absl::StrFormat("%s-%05d.bin", split_, files_.size());
  state_->path = (std::filesystem::path(dir_) / state_->info.file).string();
  state_->temp = absl::StrCat(state_->path, ".tmp.", ::getpid());
  state_->file = std::fopen(state_->temp.c_str(), "w+b");
  if (state_->file == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create ", state_->temp, ": ", ErrnoText()));
  }
  const std::string header(kHeaderBytes, '\0');  // rewritten by CloseFile
  if (std::fwrite(header.data(), 1, header.size(), state_->file) != header.size()) {
    return absl::InternalError(absl::StrCat("cannot write ", state_->temp, ": ", ErrnoText()));
  }
  state_->offset = kHeaderBytes;
  return absl::OkStatus();
}

absl::Status ShardWriter::Add(std::span<const int32_t> ids, std::span<const uint8_t> mask,
                              std::span<const uint32_t> doc_starts) {
  if (finished_) return absl::FailedPreconditionError("shard writer: Add after Finish");
  if (ids.empty() || ids.size() > seq_len_ || mask.size() != ids.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "shard writer: row of %d tokens with %d mask values (sequence length %d)", ids.size(), mask.size(),
        seq_len_));
  }
  if (doc_starts.empty() || doc_starts[0] != 0) {
    return absl::InvalidArgumentError("shard writer: the first document must start at 0");
  }
  for (size_t i = 1; i < doc_starts.size(); ++i) {
    if (doc_starts[i] <= doc_starts[i - 1] || doc_starts[i] >= ids.size()) {
      return absl::InvalidArgumentError("shard writer: document starts must increase and lie inside the row");
    }
  }
  uint8_t any_bits = 0;  // one vectorisable pass: validity (no value above 1) and the loss-token count
  uint64_t loss_tokens = 0;
  for (uint8_t m : mask) {
    any_bits |= m;
    loss_tokens += m;
  }
  if (any_bits > 1) return absl::InvalidArgumentError("shard writer: loss mask values must be 0 or 1");
  const uint64_t bytes = RowBytes(ids.size(), doc_starts.size());
  if (state_ != nullptr && state_->info.rows > 0 &&
      state_->offset + bytes + kIndexEntryBytes * (state_->info.rows + 1) > max_file_bytes_) {
    if (auto s = CloseFile(); !s.ok()) return s;
  }
  if (state_ == nullptr) {
    if (auto s = OpenFile(); !s.ok()) return s;
  }
  // The row is assembled in a reused buffer; only the alignment gaps are zeroed.
  if (row_.size() < bytes) row_.resize(bytes);
  char* out = row_.data();
  const size_t mask_end = 5 * ids.size(), starts_at = Align(mask_end, 4);
  const size_t starts_end = starts_at + 4 * doc_starts.size();
  std::memcpy(out, ids.data(), 4 * ids.size());
  std::memcpy(out + 4 * ids.size(), mask.data(), mask.size());
  std::memset(out + mask_end, 0, starts_at - mask_end);
  std::memcpy(out + starts_at, doc_starts.data(), 4 * doc_starts.size());
  std::memset(out + starts_end, 0, bytes - starts_end);
  if (std::fwrite(out, 1, bytes, state_->file) != bytes) {
    return absl::InternalError(absl::StrCat("cannot write ", state_->temp, ": ", ErrnoText()));
  }
  std::string& index = state_->index;
  index.resize(index.size() + kIndexEntryBytes);
  const size_t entry = index.size() - kIndexEntryBytes;
  PutU64(index, entry, state_->offset);
  PutU32(index, entry + 8, static_cast<uint32_t>(ids.size()));
  PutU32(index, entry + 12, static_cast<uint32_t>(doc_starts.size()));
  state_->offset += bytes;
  if (state_->offset - state_->writeback_from >= kWritebackBytes) {
    if (std::fflush(state_->file) != 0 ||
        !WriteBackStep(::fileno(state_->file), state_->writeback_from, state_->offset - state_->writeback_from)) {
      return absl::InternalError(absl::StrCat("cannot write ", state_->temp, ": ", ErrnoText()));
    }
    state_->writeback_from = state_->offset;
  }
  ShardFileInfo& info = state_->info;
  ++info.rows;
  info.tokens += ids.size();
  info.loss_tokens += loss_tokens;
  info.documents += doc_starts.size();
  return absl::OkStatus();
}

absl::Status ShardWriter::CloseFile() {
  State& st = *state_;
  auto fail = [&](const char* what) {
    return absl::InternalError(absl::StrCat("cannot ", what, " ", st.temp, ": ", ErrnoText()));
  };
  const uint64_t index_offset = st.offset;
  if (std::fwrite(st.index.data(), 1, st.index.size(), st.file) != st.index.size()) return fail("write");
  const uint64_t file_bytes = index_offset + st.index.size();
  std::string header(kHeaderBytes, '\0');
  std::memcpy(header.data(), kShardMagic, 8);
  PutU32(header, 8, kFormatVersion);
  PutU32(header, 12, kHeaderBytes);
  PutU32(header, 16, seq_len_);
  PutU32(header, 20, static_cast<uint32_t>(pad_id_));
  PutU64(header, 24, st.info.rows);
  PutU64(header, 32, index_offset);
  PutU64(header, 40, st.info.tokens);
  PutU64(header, 48, file_bytes);
  PutU64(header, 56, st.info.documents);
  if (std::fseek(st.file, 0, SEEK_SET) != 0) return fail("seek in");
  if (std::fwrite(header.data(), 1, header.size(), st.file) != header.size()) return fail("write");
  if (std::fflush(st.file) != 0) return fail("flush");
  // The fsync (mostly the tail the early writeback has not covered) runs while this thread reads the file back
  // for its checksums: both are otherwise serial time at the end of a build.
  const int fd = ::fileno(st.file);
  int sync_errno = 0;
  std::thread syncer([&] { sync_errno = ::fsync(fd) == 0 ? 0 : errno; });
  // pread into one block buffer: on this VM 3x faster than hashing a mapping of the same page-cache pages.
  XXH64_state_t* whole = XXH64_createState();
  XXH64_reset(whole, 0);
  std::string block(kChecksumBlockBytes, '\0');
  int read_errno = 0;
  for (uint64_t done = 0; done < file_bytes;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChecksumBlockBytes, file_bytes - done));
    const ssize_t got = ::pread(fd, block.data(), want, static_cast<off_t>(done));
    if (got != static_cast<ssize_t>(want)) {
      read_errno = got < 0 ? errno : EIO;
      break;
    }
    XXH64_update(whole, block.data(), want);
    st.info.block_xxh64.push_back(Hex64(XXH64(block.data(), want, 0)));
    done += want;
  }
  st.info.xxh64 = Hex64(XXH64_digest(whole));
  XXH64_freeState(whole);
  syncer.join();
  if (read_errno != 0) {
    errno = read_errno;
    return fail("read back");
  }
  if (sync_errno != 0) {
    errno = sync_errno;
    return fail("fsync");
  }
  const int rc = std::fclose(st.file);
  st.file = nullptr;
  if (rc != 0) return fail("close");
  if (std::rename(st.temp.c_str(), st.path.c_str()) != 0) return fail("rename");
  if (auto s = FsyncDir(dir_); !s.ok()) return s;
  st.info.bytes = file_bytes;
  files_.push_back(std::move(st.info));
  state_.reset();
  return absl::OkStatus();
}

absl::Status ShardWriter::AddDocuments(std::span<const std::span<const int32_t>> ids,
                                       std::span<const std::span<const uint8_t>> masks) {
  if (ids.size() != masks.size()) return absl::InvalidArgumentError("AddDocuments: ids and masks differ in count");
  row_ids_.clear();
  row_mask_.clear();
  row_starts_.clear();
  for (size_t k = 0; k < ids.size(); ++k) {
    row_starts_.push_back(static_cast<uint32_t>(row_ids_.size()));
    row_ids_.insert(row_ids_.end(), ids[k].begin(), ids[k].end());
    row_mask_.insert(row_mask_.end(), masks[k].begin(), masks[k].end());
  }
  return Add(row_ids_, row_mask_, row_starts_);
}

absl::StatusOr<std::vector<ShardFileInfo>> ShardWriter::Finish() {
  if (finished_) return files_;
  finished_ = true;
  if (state_ != nullptr) {
    if (auto s = CloseFile(); !s.ok()) return s;
  }
  return files_;
}

// ---------------------------------------------------------------------------------------------------------------
// Reader

struct ShardSet::Mapped {
  std::string path;
  const uint8_t* data = nullptr;
  size_t size = 0;
  uint64_t rows = 0;
  uint64_t index_offset = 0;
  ~Mapped() {
    if (data != nullptr && size > 0) ::munmap(const_cast<uint8_t*>(data), size);
  }
};

ShardSet::~ShardSet() = default;

absl::StatusOr<nlohmann::json> ReadManifest(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "manifest.json").string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open (not a finished shard folder?)"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json m = nlohmann::json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (m.is_discarded() || !m.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": not a JSON object"));
  }
  if (!m.contains("format") || !m["format"].is_string() || m["format"].get<std::string>() != "distill-shards") {
    return absl::InvalidArgumentError(absl::StrCat(path, ": \"format\" is not \"distill-shards\""));
  }
  if (!m.contains("format_version") || !m["format_version"].is_number_unsigned() ||
      m["format_version"].get<uint64_t>() != kFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unsupported \"format_version\" (this reader reads ", kFormatVersion, ")"));
  }
  if (!m.contains("seq_len") || !m["seq_len"].is_number_unsigned() || m["seq_len"].get<uint64_t>() == 0 ||
      m["seq_len"].get<uint64_t>() > (1u << 30)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": \"seq_len\" missing or out of range"));
  }
  if (!m.contains("pad_id") || !m["pad_id"].is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": \"pad_id\" missing"));
  }
  if (!m.contains("splits") || !m["splits"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": \"splits\" missing"));
  }
  for (const std::string key : {"tokenizer_fingerprint", "template_fingerprint"}) {
    if (!m.contains(key) || !m[key].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": \"", key, "\" missing"));
    }
  }
  return m;
}

namespace {

// Checks one mapped file against its manifest entry; `where(offset)` prefixes errors.
absl::Status ValidateFile(const uint8_t* d, uint64_t size, const nlohmann::json& entry, uint32_t seq_len,
                          int32_t pad_id, bool verify_checksums, const std::string& path, uint64_t& rows_out,
                          uint64_t& index_offset_out) {
  auto at = [&](uint64_t offset, const std::string& msg) {
    return absl::DataLossError(absl::StrCat(path, ": offset ", offset, ": ", msg));
  };
  const uint64_t want_bytes = entry.value("bytes", uint64_t{0});
  if (size < want_bytes) {
    return at(size, absl::StrCat("file is truncated: ", size, " bytes, manifest says ", want_bytes));
  }
  if (size > want_bytes) {
    return at(want_bytes, absl::StrCat("file has ", size - want_bytes, " bytes more than the manifest's ",
                                       want_bytes));
  }
  if (verify_checksums) {
    const auto& blocks = entry.at("block_xxh64");
    const uint64_t block_bytes = entry.value("block_bytes", uint64_t{0});
    if (block_bytes == 0 || !blocks.is_array() || blocks.size() != (size + block_bytes - 1) / block_bytes) {
      return absl::DataLossError(absl::StrCat(path, ": manifest block checksums do not match the file size"));
    }
    XXH64_state_t* whole = XXH64_createState();
    XXH64_reset(whole, 0);
    for (uint64_t b = 0; b < blocks.size(); ++b) {
      const uint64_t begin = b * block_bytes;
      const uint64_t len = std::min(block_bytes, size - begin);
      XXH64_update(whole, d + begin, len);
      if (!blocks[b].is_string() || Hex64(XXH64(d + begin, len, 0)) != blocks[b].get<std::string>()) {
        XXH64_freeState(whole);
        return at(begin, absl::StrCat("checksum mismatch in bytes [", begin, ", ", begin + len,
                                      "): the file is corrupt (XXH64 ", Hex64(XXH64(d + begin, len, 0)),
                                      ", manifest says ", blocks[b].is_string() ? blocks[b].get<std::string>() : "?",
                                      ")"));
      }
    }
    const std::string digest = Hex64(XXH64_digest(whole));
    XXH64_freeState(whole);
    if (digest != entry.value("xxh64", std::string())) {
      return at(0, absl::StrCat("file checksum ", digest, " differs from the manifest's"));
    }
  }
  if (size < kHeaderBytes) return at(size, "file is shorter than the 64-byte header");
  if (std::memcmp(d, kShardMagic, 8) != 0) return at(0, "bad magic (not a distill shard file)");
  if (GetU32(d + 8) != kFormatVersion) return at(8, absl::StrCat("unsupported version ", GetU32(d + 8)));
  if (GetU32(d + 12) != kHeaderBytes) return at(12, "bad header size");
  if (GetU32(d + 16) != seq_len) {
    return at(16, absl::StrCat("sequence length ", GetU32(d + 16), ", manifest says ", seq_len));
  }
  if (static_cast<int32_t>(GetU32(d + 20)) != pad_id) {
    return at(20, absl::StrCat("pad id ", static_cast<int32_t>(GetU32(d + 20)), ", manifest says ", pad_id));
  }
  const uint64_t rows = GetU64(d + 24);
  const uint64_t index_offset = GetU64(d + 32);
  const uint64_t tokens = GetU64(d + 40);
  const uint64_t docs = GetU64(d + 56);
  if (GetU64(d + 48) != size) return at(48, absl::StrCat("header says ", GetU64(d + 48), " bytes, file has ", size));
  if (rows != entry.value("rows", uint64_t{0})) {
    return at(24, absl::StrCat("header says ", rows, " rows, manifest says ", entry.value("rows", uint64_t{0})));
  }
  if (index_offset < kHeaderBytes || index_offset > size || (size - index_offset) / kIndexEntryBytes != rows ||
      (size - index_offset) % kIndexEntryBytes != 0) {
    return at(32, absl::StrCat("row index at ", index_offset, " for ", rows, " rows does not end the file"));
  }
  uint64_t prev_end = kHeaderBytes, sum_tokens = 0, sum_loss = 0, sum_docs = 0;
  for (uint64_t r = 0; r < rows; ++r) {
    const uint64_t e = index_offset + r * kIndexEntryBytes;
    const uint64_t off = GetU64(d + e);
    const uint32_t n = GetU32(d + e + 8);
    const uint32_t nd = GetU32(d + e + 12);
    if (n == 0 || n > seq_len) return at(e + 8, absl::StrCat("row ", r, ": ", n, " tokens (sequence length ", seq_len, ")"));
    if (nd == 0 || nd > n) return at(e + 12, absl::StrCat("row ", r, ": ", nd, " documents for ", n, " tokens"));
    if (off % 8 != 0 || off < prev_end || off > index_offset || RowBytes(n, nd) > index_offset - off) {
      return at(e, absl::StrCat("row ", r, ": data offset ", off, " out of place"));
    }
    const int32_t* ids = reinterpret_cast<const int32_t*>(d + off);
    const uint8_t* mask = d + off + 4ull * n;
    const uint64_t starts_at = off + Align(5ull * n, 4);
    const uint32_t* starts = reinterpret_cast<const uint32_t*>(d + starts_at);
    for (uint32_t t = 0; t < n; ++t) {
      if (ids[t] < 0) return at(off + 4ull * t, absl::StrCat("row ", r, ": negative token id ", ids[t]));
      if (mask[t] > 1) return at(off + 4ull * n + t, absl::StrCat("row ", r, ": loss mask value ", mask[t]));
      sum_loss += mask[t];
    }
    for (uint32_t k = 0; k < nd; ++k) {
      if ((k == 0 && starts[k] != 0) || (k > 0 && (starts[k] <= starts[k - 1] || starts[k] >= n))) {
        return at(starts_at + 4ull * k, absl::StrCat("row ", r, ": bad document start ", starts[k]));
      }
    }
    prev_end = off + RowBytes(n, nd);
    sum_tokens += n;
    sum_docs += nd;
  }
  if (sum_tokens != tokens) return at(40, absl::StrCat("header says ", tokens, " tokens, rows hold ", sum_tokens));
  if (sum_docs != docs) return at(56, absl::StrCat("header says ", docs, " documents, rows hold ", sum_docs));
  if (sum_tokens != entry.value("tokens", uint64_t{0}) || sum_loss != entry.value("loss_tokens", uint64_t{0})) {
    return at(40, absl::StrCat("file holds ", sum_tokens, " tokens (", sum_loss, " trained), manifest says ",
                               entry.value("tokens", uint64_t{0}), " (", entry.value("loss_tokens", uint64_t{0}),
                               ")"));
  }
  rows_out = rows;
  index_offset_out = index_offset;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShardSet>> ShardSet::Open(const std::string& dir, const std::string& split,
                                                         const OpenOptions& options) {
  auto manifest = ReadManifest(dir);
  if (!manifest.ok()) return manifest.status();
  const std::string manifest_path = (std::filesystem::path(dir) / "manifest.json").string();
  const nlohmann::json& m = *manifest;
  if (options.expected_tokenizer_fingerprint &&
      *options.expected_tokenizer_fingerprint != m["tokenizer_fingerprint"].get<std::string>()) {
    return absl::FailedPreconditionError(absl::StrCat(
        manifest_path, ": shards were built with tokenizer ", m["tokenizer_fingerprint"].get<std::string>(),
        ", this model's tokenizer is ", *options.expected_tokenizer_fingerprint));
  }
  if (options.expected_template_fingerprint &&
      *options.expected_template_fingerprint != m["template_fingerprint"].get<std::string>()) {
    return absl::FailedPreconditionError(absl::StrCat(
        manifest_path, ": shards were built with chat template ", m["template_fingerprint"].get<std::string>(),
        ", this model's template is ", *options.expected_template_fingerprint));
  }
  if (!m["splits"].contains(split)) {
    return absl::NotFoundError(absl::StrCat(manifest_path, ": no split '", split, "'"));
  }
  const nlohmann::json& s = m["splits"][split];
  if (!s.is_object() || !s.contains("files") || !s["files"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(manifest_path, ": split '", split, "' has no \"files\" list"));
  }
  std::unique_ptr<ShardSet> set(new ShardSet());
  set->seq_len_ = m["seq_len"].get<uint32_t>();
  set->pad_id_ = m["pad_id"].get<int32_t>();
  set->manifest_ = m;
  uint64_t total_rows = 0;
  for (const nlohmann::json& entry : s["files"]) {
    if (!entry.is_object() || !entry.contains("file") || !entry["file"].is_string() ||
        !entry.contains("bytes") || !entry["bytes"].is_number_unsigned() || !entry.contains("rows") ||
        !entry["rows"].is_number_unsigned() || !entry.contains("block_xxh64") || !entry["block_xxh64"].is_array() ||
        !entry.contains("xxh64") || !entry["xxh64"].is_string() || !entry.contains("block_bytes") ||
        !entry["block_bytes"].is_number_unsigned() || !entry.contains("tokens") ||
        !entry["tokens"].is_number_unsigned() || !entry.contains("loss_tokens") ||
        !entry["loss_tokens"].is_number_unsigned()) {
      return absl::InvalidArgumentError(absl::StrCat(manifest_path, ": malformed file entry in split '", split, "'"));
    }
    const std::string name = entry["file"].get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return absl::InvalidArgumentError(absl::StrCat(manifest_path, ": bad shard file name '", name, "'"));
    }
    auto mapped = std::make_unique<Mapped>();
    mapped->path = (std::filesystem::path(dir) / name).string();
    const int fd = ::open(mapped->path.c_str(), O_RDONLY);
    if (fd < 0) return absl::NotFoundError(absl::StrCat(mapped->path, ": cannot open: ", ErrnoText()));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return absl::InternalError(absl::StrCat(mapped->path, ": cannot stat: ", ErrnoText()));
    }
    mapped->size = static_cast<size_t>(st.st_size);
    if (mapped->size > 0) {
      void* p = ::mmap(nullptr, mapped->size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return absl::InternalError(absl::StrCat(mapped->path, ": cannot map: ", ErrnoText()));
      }
      mapped->data = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
    static const uint8_t kEmpty[1] = {0};
    if (auto st2 = ValidateFile(mapped->data ? mapped->data : kEmpty, mapped->size, entry, set->seq_len_,
                                set->pad_id_, options.verify_checksums, mapped->path, mapped->rows,
                                mapped->index_offset);
        !st2.ok()) {
      return st2;
    }
    const uint32_t file_index = static_cast<uint32_t>(set->files_.size());
    for (uint64_t r = 0; r < mapped->rows; ++r) {
      set->row_file_.push_back(file_index);
      set->row_local_.push_back(r);
    }
    total_rows += mapped->rows;
    set->files_.push_back(std::move(mapped));
  }
  if (s.contains("counts") && s["counts"].contains("rows") && s["counts"]["rows"].is_number_unsigned() &&
      s["counts"]["rows"].get<uint64_t>() != total_rows) {
    return absl::DataLossError(absl::StrCat(manifest_path, ": split '", split, "' counts ",
                                            s["counts"]["rows"].get<uint64_t>(), " rows, its files hold ",
                                            total_rows));
  }
  return set;
}

RowView ShardSet::Row(size_t index) const {
  const Mapped& f = *files_[row_file_[index]];
  const uint8_t* e = f.data + f.index_offset + row_local_[index] * kIndexEntryBytes;
  const uint64_t off = GetU64(e);
  const uint32_t n = GetU32(e + 8);
  const uint32_t nd = GetU32(e + 12);
  RowView v;
  v.ids = {reinterpret_cast<const int32_t*>(f.data + off), n};
  v.mask = {f.data + off + 4ull * n, n};
  v.doc_starts = {reinterpret_cast<const uint32_t*>(f.data + off + Align(5ull * n, 4)), nd};
  return v;
}

}  // namespace distill::shard
