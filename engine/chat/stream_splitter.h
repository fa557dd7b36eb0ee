// Routes a model's streamed text into its channels (docs/GEMMA4.md §5.4 "Channels"): the
// thought channel `<|channel>thought\n…<channel|>`, tool calls `<|tool_call>…<tool_call|>`,
// and the answer (everything else). Markers are consumed, never shown; text that could be the
// start of a marker is held back until it is certain. Works on text, so the same splitter
// run over a finished reply's whole text gives the same result as the stream did.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gemmad::chat {

enum class Channel { kAnswer, kThought, kToolCall };
const char* channel_name(Channel c);  // "answer", "thought", "tool_call"

struct ChannelText {
  Channel channel = Channel::kAnswer;
  std::string text;
};

class StreamSplitter {
 public:
  // `in_thought`: the prompt already opened the thought channel (after a tool result with
  // thinking on, docs/GEMMA4.md §5.4).
  explicit StreamSplitter(bool in_thought = false);

  // Appends the pieces that became certain (consecutive text of one channel is one piece).
  void push(std::string_view text, std::vector<ChannelText>& out);
  // End of the reply: the held-back text, in the channel it was in.
  void finish(std::vector<ChannelText>& out);

  Channel channel() const { return channel_; }
  const std::string& answer() const { return answer_; }
  const std::string& reasoning() const { return reasoning_; }
  // The text of each call between its markers; the last one unclosed if the reply ended in it.
  const std::vector<std::string>& calls() const { return calls_; }
  bool call_open() const { return channel_ == Channel::kToolCall; }

 private:
  void emit(std::string_view text, std::vector<ChannelText>& out);

  Channel channel_ = Channel::kAnswer;
  bool header_ = false;  // just after <|channel>: dropping the channel's name line "thought\n"
  std::string pending_;
  std::string answer_, reasoning_;
  std::vector<std::string> calls_;
};

// The whole reply at once.
struct SplitReply {
  std::string answer;
  std::string reasoning;
  std::vector<std::string> calls;
  bool call_open = false;  // ended inside a call (no <tool_call|>)
};
SplitReply split_reply(std::string_view text, bool in_thought = false);

}  // namespace gemmad::chat
