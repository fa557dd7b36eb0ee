// libFuzzer target for `gemmactl model import-vocab`: arbitrary text as a Hugging Face
// tokenizer.json. A rejected file must say why; an accepted vocabulary must be consistent (one
// type per token) and, when it builds a tokenizer, encode and decode a fixed string without
// crashing. The Gemma 4 size check is off, or no input could reach the code past it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gemmad::tokenizer;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  VocabImportOptions options;
  options.gemma4 = false;
  auto vocab = import_hf_tokenizer_json(text, options);
  if (!vocab.ok()) {
    if (vocab.error().message.empty()) __builtin_trap();
    return 0;
  }
  if (vocab->tokens.size() != vocab->types.size()) __builtin_trap();
  auto tok = Tokenizer::from_data(*vocab);
  if (!tok.ok()) return 0;
  EncodeOptions eo;
  eo.add_bos = true;
  const auto ids = (*tok)->encode("Hello <bos> wörld \xF0\x9F\x98\x80 \n\n", eo);
  (void)(*tok)->decode(ids);
  return 0;
}
