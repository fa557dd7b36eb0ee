// Fuzzes what the chat REPL parses from a user's line: `/set NAME VALUE` (set_sampling) and
// the "did you mean" matcher (closest_words). Input: NAME, a newline, VALUE.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat_options.h"
#include "cli.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string name = in.substr(0, nl);
  const std::string value = nl == std::string::npos ? "" : in.substr(nl + 1);
  gemmad::ctl::SamplingArgs s;
  if (gemmad::ctl::set_sampling(s, name, value).ok()) {
    // Whatever was accepted lies in the documented ranges.
    if (s.temp < 0 || s.top_p < 0 || s.top_p > 1 || s.min_p < 0 || s.min_p > 1 ||
        s.max_tokens < 1 || s.top_k < 0 || s.seed < -1)
      __builtin_trap();
    (void)gemmad::ctl::describe_sampling(s);
  }
  (void)gemmad::ctl::closest_words(name, {"chat", "status", "session", "shutdown", value});
  return 0;
}
