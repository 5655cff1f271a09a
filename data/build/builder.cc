#include "data/build/builder.h"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/build/fingerprint.h"
#include "data/line_reader.h"
#include "data/trace_record.h"
#include "tokenizers/heap.h"
#include "tokenizers/model_folder.h"
#include "tokenizers/training_view.h"

namespace distill::build {
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxBadListed = 1000;

struct Sample {
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;
};

// One input line's outcome.
struct LineResult {
  std::string where;
  int64_t line_number = 0;  // within its file
  std::optional<std::string> error;
  std::string prompt_id;
  Sample sample;
};

// Buffers one split's samples and writes them as rows, packed per window. A full window is packed and written
// on a background thread while the next one fills, so writing overlaps reading and tokenizing (the consumer used
// to stop for the whole flush, and the workers ran dry behind it); windows are written in input order.
class SplitSink {
 public:
  SplitSink(std::unique_ptr<shard::ShardWriter> writer, uint32_t seq_len, bool pack, size_t window)
      : writer_(std::move(writer)), seq_len_(seq_len), pack_(pack), window_(std::max<size_t>(window, 1)) {}
  ~SplitSink() {
    if (flush_thread_.joinable()) flush_thread_.join();
  }
  SplitSink(const SplitSink&) = delete;
  SplitSink& operator=(const SplitSink&) = delete;

  absl::Status Add(Sample sample) {
    ++counts.samples;
    counts.tokens += static_cast<int64_t>(sample.ids.size());
    for (uint8_t m : sample.mask) counts.loss_tokens += m;
    pending_.push_back(std::move(sample));
    if (pending_.size() < window_) return absl::OkStatus();
    // At most two windows in memory: the one being written and the one filling.
    if (auto s = WaitForFlush(); !s.ok()) return s;
    flushing_ = std::move(pending_);
    pending_.clear();
    flush_thread_ = std::thread([this] { flush_status_ = Write(flushing_); });
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<shard::ShardFileInfo>> Finish() {
    if (auto s = WaitForFlush(); !s.ok()) return s;
    if (auto s = Write(pending_); !s.ok()) return s;
    pending_.clear();
    return writer_->Finish();
  }

  // Valid after Finish.
  int64_t packed_rows() const { return packed_rows_; }
  // samples, tokens and loss_tokens are counted by Add; rows and padding by the writes (valid after Finish).
  SplitCounts counts;

 private:
  absl::Status WaitForFlush() {
    if (flush_thread_.joinable()) flush_thread_.join();
    return flush_status_;
  }

  // Packs `samples` (best-fit decreasing, or one per row) and appends the rows to the shard writer.
  absl::Status Write(std::vector<Sample>& samples) {
    if (samples.empty()) return absl::OkStatus();
    std::vector<std::vector<size_t>> rows;
    if (pack_) {
      std::vector<uint32_t> lengths;
      for (const Sample& s : samples) lengths.push_back(static_cast<uint32_t>(s.ids.size()));
      rows = PackBestFitDecreasing(lengths, seq_len_);
    } else {
      for (size_t i = 0; i < samples.size(); ++i) rows.push_back({i});
    }
    std::vector<std::span<const int32_t>> ids;
    std::vector<std::span<const uint8_t>> masks;
    for (const auto& row : rows) {
      ids.clear();
      masks.clear();
      size_t length = 0;
      for (size_t i : row) {
        ids.emplace_back(samples[i].ids);
        masks.emplace_back(samples[i].mask);
        length += samples[i].ids.size();
      }
      if (auto s = writer_->AddDocuments(ids, masks); !s.ok()) return s;
      ++counts.rows;
      counts.padding_tokens += static_cast<int64_t>(seq_len_ - length);
      packed_rows_ += pack_ ? 1 : 0;
    }
    if (!pack_) {  // what packing would have needed, for the comparison
      std::vector<uint32_t> lengths;
      for (const Sample& s : samples) lengths.push_back(static_cast<uint32_t>(s.ids.size()));
      packed_rows_ += static_cast<int64_t>(PackBestFitDecreasing(lengths, seq_len_).size());
    }
    samples.clear();
    return absl::OkStatus();
  }

  std::unique_ptr<shard::ShardWriter> writer_;
  uint32_t seq_len_;
  bool pack_;
  size_t window_;
  std::vector<Sample> pending_;   // filling (the consumer's)
  std::vector<Sample> flushing_;  // being written (flush_thread_'s)
  std::thread flush_thread_;
  absl::Status flush_status_;
  int64_t packed_rows_ = 0;
};

double Share(int64_t part, int64_t whole) { return whole > 0 ? static_cast<double>(part) / whole : 0.0; }

// Special-token contents refused inside texts, found in one pass: only bytes that start some special are checked.
struct SpecialScan {
  std::vector<std::string> texts;
  std::array<bool, 256> first{};
  const std::string* Find(std::string_view value) const {
    for (size_t pos = 0; pos < value.size(); ++pos) {
      if (!first[static_cast<unsigned char>(value[pos])]) continue;
      for (const std::string& special : texts)
        if (value.compare(pos, special.size(), special) == 0) return &special;
    }
    return nullptr;
  }
};

// Text mode: what one input line becomes. Tokens of the text (BOS first when the tokenizer config adds one), then
// `eos`; loss on every token. The split key is the line's "id" (string or integer), else "line N".
void ProcessTextLine(const std::string& line, const tok::ModelTokenization& model, int32_t eos,
                     const SpecialScan& specials, LineResult& r) {
  auto json = data::ParseJsonObjectLine(line, r.where);
  if (!json.ok()) {
    r.error = std::string(json.status().message());
    return;
  }
  auto text = json->find("text");
  if (text == json->end()) {
    r.error = absl::StrCat(r.where, ": missing field 'text' (a string)");
    return;
  }
  if (!text->is_string()) {
    r.error = absl::StrCat(r.where, ": field 'text': expected a string, got ", text->type_name());
    return;
  }
  const std::string& value = text->get_ref<const std::string&>();
  if (value.empty()) {
    r.error = absl::StrCat(r.where, ": field 'text' is empty");
    return;
  }
  if (auto id = json->find("id"); id != json->end() && !id->is_null()) {
    if (id->is_string() && !id->get_ref<const std::string&>().empty()) {
      r.prompt_id = id->get<std::string>();
    } else if (id->is_number_integer()) {
      r.prompt_id = id->dump();
    } else {
      r.error = absl::StrCat(r.where, ": field 'id': expected a non-empty string or an integer");
      return;
    }
  } else {
    r.prompt_id = absl::StrCat("line ", r.line_number);
  }
  if (const std::string* special = specials.Find(value)) {
    r.error = absl::StrCat(r.where, ": text contains the special token \"", *special,
                           "\" (it would be tokenized as a control token)");
    return;
  }
  auto ids = tok::EncodePlain(model, value, /*add_special_tokens=*/true);
  if (!ids.ok()) {
    r.error = absl::StrCat(r.where, ": ", std::string(ids.status().message()));
    return;
  }
  r.sample.ids = std::move(*ids);
  r.sample.ids.push_back(eos);
  r.sample.mask.assign(r.sample.ids.size(), 1);
}

}  // namespace

const char* InputKindName(InputKind kind) { return kind == InputKind::kText ? "text" : "traces"; }

nlohmann::json SplitCounts::ToJson() const {
  return {{"samples", samples}, {"rows", rows}, {"tokens", tokens}, {"loss_tokens", loss_tokens},
          {"padding_tokens", padding_tokens}};
}

bool IsValidation(const std::string& prompt_id, double val_fraction) {
  if (val_fraction <= 0) return false;
  const uint64_t h = shard::Xxh64(prompt_id);
  return static_cast<double>(h >> 11) * 0x1.0p-53 < val_fraction;
}

std::vector<std::vector<size_t>> PackBestFitDecreasing(const std::vector<uint32_t>& lengths, uint32_t capacity) {
  std::vector<size_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<size_t>> rows;
  std::multimap<uint32_t, size_t> open;  // remaining capacity → row (equal keys in insertion order)
  for (size_t i : order) {
    const uint32_t len = lengths[i];
    auto it = open.lower_bound(len);
    if (it == open.end()) {
      rows.push_back({i});
      if (capacity > len) open.emplace(capacity - len, rows.size() - 1);
    } else {
      const size_t row = it->second;
      const uint32_t left = it->first - len;
      open.erase(it);
      rows[row].push_back(i);
      if (left > 0) open.emplace(left, row);
    }
  }
  return rows;
}

absl::StatusOr<BuildReport> BuildShards(const BuildOptions& options) {
  if (options.seq_len < 2) return absl::InvalidArgumentError("build: sequence length must be at least 2");
  if (options.val_fraction < 0 || options.val_fraction >= 1) {
    return absl::InvalidArgumentError("build: validation fraction must be in [0, 1)");
  }
  if (options.inputs.empty()) return absl::InvalidArgumentError("build: no input files");
  const bool text_mode = options.kind == InputKind::kText;
  tok::ModelFolderOptions folder_options;
  if (!text_mode) folder_options.template_override = options.template_override;
  auto model = tok::LoadModelTokenization(options.model, folder_options);
  if (!model.ok()) return model.status();

  BuildReport report;
  report.tokenizer_fingerprint = TokenizerFingerprint(*model);
  // Traces: the chat template decides the loss mask. Text: no template is involved, so the fingerprint is empty
  // (the trainer then accepts the shards with any template the model has).
  std::optional<tok::TrainingTemplate> prepared;
  int32_t text_eos = -1;
  SpecialScan specials;  // text mode: special-token contents refused inside texts (unless allowed)
  if (text_mode) {
    if (!model->eos_token)
      return absl::FailedPreconditionError(absl::StrCat(
          "build --text: ", options.model,
          ": the tokenizer has no eos_token (tokenizer_config.json) to end each text with; set one"));
    text_eos = *model->tokenizer->PieceToId(*model->eos_token);
    for (const tok::AddedToken& t : model->tokenizer->AddedTokens()) {
      if (!t.special || t.content.empty() || options.text_specials) continue;
      specials.texts.push_back(t.content);
      specials.first[static_cast<unsigned char>(t.content[0])] = true;
    }
  } else {
    auto p = tok::PrepareTrainingTemplate(*model);
    if (!p.ok()) return p.status();
    prepared = std::move(*p);
    report.template_fingerprint = TemplateFingerprint(*model, prepared->end_of_turn);
  }
  int32_t pad_id = 0;
  if (model->pad_token) {
    if (auto id = model->tokenizer->PieceToId(*model->pad_token)) pad_id = *id;
  } else if (!model->eos_token_ids.empty()) {
    pad_id = model->eos_token_ids.front();
  }

  // Every input must open before a previous build in `out` is replaced: a mistyped path must not cost its shards.
  for (const std::string& input : options.inputs) {
    if (auto in = data::LineReader::Open(input); !in.ok()) return in.status();
  }

  std::error_code ec;
  fs::create_directories(options.out, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", options.out, ": ", ec.message()));
  // A previous build's manifest goes first (the folder is unfinished until the new one lands), then its shards.
  fs::remove(fs::path(options.out) / "manifest.json", ec);
  if (!options.resolved_yaml.empty()) {
    const std::string path = (fs::path(options.out) / "resolved.yaml").string();
    if (auto s = shard::WriteFileAtomic(path, options.resolved_yaml); !s.ok()) return s;
  }
  for (const auto& entry : fs::directory_iterator(options.out, ec)) {
    const std::string name = entry.path().filename().string();
    if ((name.rfind("train-", 0) == 0 || name.rfind("validation-", 0) == 0) &&
        (name.ends_with(".bin") || name.find(".bin.tmp.") != std::string::npos)) {
      fs::remove(entry.path(), ec);
    }
  }

  const bool with_val = options.val_fraction > 0;
  std::vector<std::string> split_names = {"train"};
  if (with_val) split_names.push_back("validation");
  std::vector<std::unique_ptr<SplitSink>> sinks;
  for (const std::string& name : split_names) {
    auto writer = shard::ShardWriter::Create(options.out, name, options.seq_len, pad_id, options.max_shard_bytes);
    if (!writer.ok()) return writer.status();
    sinks.push_back(std::make_unique<SplitSink>(std::move(*writer), options.seq_len, options.pack,
                                                options.pack_window));
  }

  const int threads = options.threads > 0 ? options.threads
                                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t chunk = std::max<size_t>(options.chunk_lines, 1);
  const uint32_t seq_len = options.seq_len;

  auto process = [&](const std::string& line, LineResult& r) {
    if (text_mode) {
      ProcessTextLine(line, *model, text_eos, specials, r);
      return;
    }
    const tok::TrainingTemplate& tmpl = *prepared;
    auto json = data::ParseJsonObjectLine(line, r.where);
    if (!json.ok()) {
      r.error = std::string(json.status().message());
      return;
    }
    auto trace = data::TraceFromJson(*std::move(json), r.where);
    if (!trace.ok()) {
      r.error = std::string(trace.status().message());
      return;
    }
    tok::TraceExample example;
    example.prompt = std::move(trace->messages);
    example.reasoning = std::move(trace->reasoning);
    example.answer = std::move(trace->answer);
    thread_local tok::PromptRenderCache prompt_renders;  // neighbouring samples of one prompt render it once
    auto view = tok::RenderTrainingView(tmpl, example, &prompt_renders);
    if (!view.ok()) {
      r.error = absl::StrCat(r.where, ": ", std::string(view.status().message()));
      return;
    }
    r.prompt_id = trace->prompt_id;
    r.sample.ids = std::move(view->ids);
    r.sample.mask = std::move(view->loss_mask);
  };

  // Consumes one rendered line in input order: counts, length policy, split, packing and writing.
  auto consume = [&](LineResult& r) -> absl::Status {
    if (r.error) {
      ++report.bad_lines;
      if (report.bad.size() < kMaxBadListed) report.bad.emplace_back(r.where, *r.error);
      return absl::OkStatus();
    }
    if (r.sample.ids.size() > seq_len) {
      if (!options.truncate) {
        ++report.dropped;
        return absl::OkStatus();
      }
      ++report.truncated;
      r.sample.ids.resize(seq_len);
      r.sample.mask.resize(seq_len);
    }
    if (r.sample.ids.empty()) return absl::OkStatus();
    ++report.samples;
    SplitSink& sink = *sinks[with_val && IsValidation(r.prompt_id, options.val_fraction) ? 1 : 0];
    return sink.Add(std::move(r.sample));
  };

  BuildProgress progress;
  for (const std::string& input : options.inputs) {
    std::error_code size_error;
    const auto size = std::filesystem::file_size(input, size_error);
    if (!size_error) progress.bytes_total += size;
  }
  auto report_progress = [&] {
    if (!options.on_progress) return;
    progress.lines = report.lines;
    progress.samples = report.samples;
    options.on_progress(progress);
  };

  // A pipeline without per-chunk barriers: this thread reads lines into a window of at most `chunk` in-flight
  // jobs and consumes finished ones in input order (packing, writing), while `threads` workers render whichever
  // job is next. A long trace then delays only its own slot, and reading and writing overlap tokenizing. With a
  // full window this thread sleeps until a batch of jobs is done rather than waking per job: a wake-up per line
  // cost ~8% of a one-worker build (futex wake, two context switches) on a 2-core VM.
  struct Job {
    std::string line;
    LineResult result;
    bool done = false;
  };
  std::deque<std::unique_ptr<Job>> window;  // in input order; front is the oldest unconsumed job
  size_t claimed = 0;                        // jobs handed to workers, counted from window.front()
  size_t done_unconsumed = 0;                // finished jobs still in the window
  bool input_done = false;
  std::mutex mu;
  std::condition_variable work_ready, job_done;
  const size_t wake_batch = std::min<size_t>(64, std::max<size_t>(chunk / 4, 1));
  // What the consumer waits for: the front job done, and a batch done unless the window holds less (the end).
  auto batch_ready = [&] {
    return window.front()->done && done_unconsumed >= std::min(wake_batch, window.size());
  };
  auto worker = [&] {
    tok::AdviseHugePagesForThreadHeap();
    std::unique_lock lock(mu);
    for (;;) {
      work_ready.wait(lock, [&] { return claimed < window.size() || input_done; });
      if (claimed >= window.size()) return;  // input done and nothing left to claim
      Job* job = window[claimed++].get();
      lock.unlock();
      process(job->line, job->result);
      job->line = std::string();
      lock.lock();
      job->done = true;
      ++done_unconsumed;
      // A batch is ready, or no job is left to claim (the consumer must refill the window or finish).
      if (done_unconsumed >= wake_batch || claimed == window.size()) job_done.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  absl::Status status;
  int64_t consumed = 0;
  // Consumes finished jobs from the front; with `wait`, blocks until the front one finishes.
  auto drain = [&](bool wait) -> absl::Status {
    for (;;) {
      std::unique_ptr<Job> job;
      {
        std::unique_lock lock(mu);
        if (window.empty()) return absl::OkStatus();
        if (wait) job_done.wait(lock, batch_ready);
        if (!window.front()->done) return absl::OkStatus();
        job = std::move(window.front());
        window.pop_front();
        --claimed;
        --done_unconsumed;
      }
      if (auto s = consume(job->result); !s.ok()) return s;
      if (++consumed % 1024 == 0) report_progress();
      wait = false;
    }
  };
  auto read_inputs = [&]() -> absl::Status {
    for (const std::string& input : options.inputs) {
      auto in = data::LineReader::Open(input);
      if (!in.ok()) return in.status();
      std::string line;
      while (in->Next(&line)) {
        const int64_t number = in->line_number();
        progress.bytes_read += line.size() + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (data::IsBlankLine(line)) continue;
        ++report.lines;
        auto job = std::make_unique<Job>();
        job->line = std::move(line);
        job->result.where = absl::StrCat(input, ":", number);
        job->result.line_number = number;
        if (auto s = drain(false); !s.ok()) return s;
        {
          std::unique_lock lock(mu);
          while (window.size() >= chunk) {
            lock.unlock();
            if (auto s = drain(true); !s.ok()) return s;
            lock.lock();
          }
          window.push_back(std::move(job));
        }
        work_ready.notify_one();
      }
      if (!in->status().ok()) return in->status();
    }
    return absl::OkStatus();
  };
  status = read_inputs();
  {
    std::lock_guard lock(mu);
    input_done = true;
    if (!status.ok()) {  // stop the workers early: drop what nobody has claimed yet
      while (window.size() > claimed) window.pop_back();
    }
  }
  work_ready.notify_all();
  if (status.ok()) {
    while (status.ok()) {
      {
        std::lock_guard lock(mu);
        if (window.empty()) break;
      }
      status = drain(true);
    }
  }
  for (auto& t : pool) t.join();
  if (!status.ok()) return status;
  report_progress();

  nlohmann::json splits = nlohmann::json::object();
  int64_t packed_rows = 0;
  for (size_t k = 0; k < sinks.size(); ++k) {
    auto files = sinks[k]->Finish();
    if (!files.ok()) return files.status();
    nlohmann::json list = nlohmann::json::array();
    for (const auto& f : *files) list.push_back(shard::ToJson(f));
    const SplitCounts& c = sinks[k]->counts;
    splits[split_names[k]] = {{"counts", c.ToJson()}, {"files", std::move(list)}};
    report.rows += c.rows;
    report.tokens += c.tokens;
    report.loss_tokens += c.loss_tokens;
    report.padding_tokens += c.padding_tokens;
    packed_rows += sinks[k]->packed_rows();
  }
  report.train = sinks[0]->counts;
  if (with_val) report.validation = sinks[1]->counts;
  const int64_t S = seq_len;
  report.padding_share = Share(report.padding_tokens, report.rows * S);
  report.packed_padding_share = Share(packed_rows * S - report.tokens, packed_rows * S);
  report.unpacked_padding_share = Share(report.samples * S - report.tokens, report.samples * S);

  nlohmann::json bad = nlohmann::json::array();
  for (size_t i = 0; i < report.bad.size() && i < 100; ++i) {
    bad.push_back({{"where", report.bad[i].first}, {"error", report.bad[i].second}});
  }
  nlohmann::json manifest = {
      {"format", "distill-shards"},
      {"format_version", shard::kFormatVersion},
      {"kind", InputKindName(options.kind)},
      {"tokenizer_fingerprint", report.tokenizer_fingerprint},
      {"template_fingerprint", report.template_fingerprint},
      {"tokenizer", text_mode ? nlohmann::json{{"path", model->path}, {"backend", model->tokenizer->Describe()},
                                               {"template", ""}, {"eos_token", *model->eos_token},
                                               {"add_bos_token", model->add_bos_token},
                                               {"vocab_size", model->tokenizer->VocabSize()}}
                              : nlohmann::json{{"path", model->path}, {"backend", model->tokenizer->Describe()},
                                               {"template", model->template_name},
                                               {"end_of_turn", prepared->end_of_turn},
                                               {"vocab_size", model->tokenizer->VocabSize()}}},
      {"seq_len", seq_len},
      {"pad_id", pad_id},
      {"packing", options.pack ? "packed" : "unpacked"},
      {"split_names", split_names},
      {"counts",
       {{"lines", report.lines}, {"samples", report.samples}, {"rows", report.rows}, {"tokens", report.tokens},
        {"loss_tokens", report.loss_tokens}, {"padding_tokens", report.padding_tokens},
        {"dropped", report.dropped}, {"truncated", report.truncated}, {"bad_lines", report.bad_lines}}},
      {"padding_share",
       {{"built", report.padding_share}, {"packed", report.packed_padding_share},
        {"unpacked", report.unpacked_padding_share}}},
      {"splits", std::move(splits)},
      {"bad_lines", std::move(bad)},
      {"config", options.config},
  };
  report.manifest_path = (fs::path(options.out) / "manifest.json").string();
  if (auto s = shard::WriteFileAtomic(report.manifest_path, manifest.dump(2) + "\n"); !s.ok()) return s;
  return report;
}

std::string FormatReport(const BuildReport& r, size_t max_bad_lines) {
  std::string out;
  absl::StrAppendFormat(&out, "lines        %d\n", r.lines);
  absl::StrAppendFormat(&out, "samples      %d (train %d, validation %d)\n", r.samples, r.train.samples,
                        r.validation.samples);
  absl::StrAppendFormat(&out, "dropped      %d (longer than the sequence length)\n", r.dropped);
  absl::StrAppendFormat(&out, "truncated    %d\n", r.truncated);
  absl::StrAppendFormat(&out, "bad lines    %d\n", r.bad_lines);
  absl::StrAppendFormat(&out, "rows         %d (train %d, validation %d)\n", r.rows, r.train.rows,
                        r.validation.rows);
  absl::StrAppendFormat(&out, "tokens       %d (%d trained, %d padding)\n", r.tokens, r.loss_tokens,
                        r.padding_tokens);
  absl::StrAppendFormat(&out, "padding      %.2f%% built; packed %.2f%%, unpacked %.2f%%\n", 100 * r.padding_share,
                        100 * r.packed_padding_share, 100 * r.unpacked_padding_share);
  for (size_t i = 0; i < r.bad.size() && i < max_bad_lines; ++i) {
    absl::StrAppend(&out, "skipped: ", r.bad[i].second, "\n");
  }
  if (max_bad_lines > 0 && r.bad_lines > static_cast<int64_t>(max_bad_lines)) {
    absl::StrAppendFormat(&out, "… %d more bad lines (see the manifest)\n",
                          r.bad_lines - static_cast<int64_t>(max_bad_lines));
  }
  absl::StrAppend(&out, "manifest: ", r.manifest_path, "\n");
  return out;
}

}  // namespace distill::build
