// Test helper: builds the real Gemma 4 vocabulary GGUF through the import code path.
#include "real_vocab.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "tokenizer/vocab_import.h"

namespace gemmad::tokenizer::testing {

std::string tokenizer_json_path() {
  if (const char* env = std::getenv("GEMMAD_TOKENIZER_JSON"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::string(GEMMAD_SOURCE_DIR) + "/models/tokenizer.json";
}

std::string reference_jsonl_path() {
  std::string shared = std::string(GEMMAD_SOURCE_DIR) + "/../shared";
  if (const char* env = std::getenv("GEMMAD_SHARED_DIR"); env != nullptr && *env != '\0') {
    shared = env;
  }
  return shared + "/data/gemma4-tokenizer-reference.jsonl";
}

std::unique_ptr<Tokenizer> load_real_vocab(std::string* error, std::string* gguf_path) {
  const std::string json_path = tokenizer_json_path();
  if (!std::filesystem::exists(json_path)) {
    *error = json_path +
             " does not exist: run scripts/fetch-tokenizer.sh (or set GEMMAD_TOKENIZER_JSON)";
    return nullptr;
  }
  auto data = import_hf_tokenizer_file(json_path);
  if (!data.ok()) {
    *error = "import failed: " + data.error().message;
    return nullptr;
  }
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("gemmad-tokenizer-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "gemma4-vocab.gguf").string();
  if (auto st = write_vocab_gguf(*data, path); !st.ok()) {
    *error = "writing the vocabulary GGUF failed: " + st.error().message;
    return nullptr;
  }
  auto tok = Tokenizer::load(path);
  if (!tok.ok()) {
    *error = "loading the vocabulary GGUF failed: " + tok.error().message;
    return nullptr;
  }
  if (gguf_path != nullptr) {
    *gguf_path = path;
  } else {
    std::filesystem::remove_all(dir);
  }
  return std::move(tok).value();
}

}  // namespace gemmad::tokenizer::testing
