// Fuzzes the strict tool-call parser and the channel splitter on the model's raw text: no
// crash, and an accepted call's arguments are a JSON object that renders and parses back.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/stream_splitter.h"
#include "chat/tool_call_parser.h"
#include "chat/tool_syntax.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  auto call = gemmad::chat::parse_tool_call(in);
  if (call.ok()) {
    const auto args = nlohmann::json::parse(call->arguments_json, nullptr, false);
    if (args.is_discarded() || !args.is_object()) __builtin_trap();
    auto again =
        gemmad::chat::parse_tool_call("call:" + call->name + gemmad::chat::gemma_value_text(args));
    if (!again.ok() || nlohmann::json::parse(again->arguments_json) != args) __builtin_trap();
  }
  const auto split = gemmad::chat::split_reply(in);
  if (split.answer.size() + split.reasoning.size() > in.size()) __builtin_trap();
  return 0;
}
