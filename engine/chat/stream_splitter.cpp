// Text -> answer / thought / tool-call channels; see stream_splitter.h.
#include "chat/stream_splitter.h"

#include <algorithm>

namespace gemmad::chat {
namespace {

constexpr std::string_view kChannelOpen = "<|channel>";
constexpr std::string_view kChannelClose = "<channel|>";
constexpr std::string_view kCallOpen = "<|tool_call>";
constexpr std::string_view kCallClose = "<tool_call|>";
constexpr std::string_view kThoughtHeader = "thought\n";

// Length of the longest suffix of `s` that is a proper prefix of `marker`.
size_t partial_suffix(std::string_view s, std::string_view marker) {
  const size_t max = std::min(s.size(), marker.size() - 1);
  for (size_t n = max; n > 0; --n) {
    if (s.substr(s.size() - n) == marker.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

const char* channel_name(Channel c) {
  switch (c) {
    case Channel::kAnswer:
      return "answer";
    case Channel::kThought:
      return "thought";
    case Channel::kToolCall:
      return "tool_call";
  }
  return "answer";
}

StreamSplitter::StreamSplitter(bool in_thought)
    : channel_(in_thought ? Channel::kThought : Channel::kAnswer) {}

void StreamSplitter::emit(std::string_view text, std::vector<ChannelText>& out) {
  if (text.empty()) return;
  switch (channel_) {
    case Channel::kAnswer:
      answer_.append(text);
      break;
    case Channel::kThought:
      reasoning_.append(text);
      break;
    case Channel::kToolCall:
      calls_.back().append(text);
      break;
  }
  if (!out.empty() && out.back().channel == channel_) {
    out.back().text.append(text);
  } else {
    out.push_back({channel_, std::string(text)});
  }
}

void StreamSplitter::push(std::string_view text, std::vector<ChannelText>& out) {
  pending_.append(text);
  while (!pending_.empty()) {
    if (header_) {
      // The channel's name line: dropped when it is "thought\n"; other text is thought.
      const size_t n = std::min(pending_.size(), kThoughtHeader.size());
      if (pending_.compare(0, n, kThoughtHeader, 0, n) != 0) {
        header_ = false;
        continue;
      }
      if (n < kThoughtHeader.size()) return;  // not certain yet
      pending_.erase(0, n);
      header_ = false;
      continue;
    }
    // The markers that mean something in this channel.
    std::string_view markers[2];
    size_t n_markers = 0;
    switch (channel_) {
      case Channel::kAnswer:
        markers[n_markers++] = kChannelOpen;
        markers[n_markers++] = kCallOpen;
        break;
      case Channel::kThought:
        markers[n_markers++] = kChannelClose;
        break;
      case Channel::kToolCall:
        markers[n_markers++] = kCallClose;
        break;
    }
    size_t at = std::string::npos;
    std::string_view found;
    for (size_t i = 0; i < n_markers; ++i) {
      const size_t p = pending_.find(markers[i]);
      if (p < at) {
        at = p;
        found = markers[i];
      }
    }
    if (at == std::string::npos) {
      size_t hold = 0;
      for (size_t i = 0; i < n_markers; ++i)
        hold = std::max(hold, partial_suffix(pending_, markers[i]));
      emit(std::string_view(pending_).substr(0, pending_.size() - hold), out);
      pending_.erase(0, pending_.size() - hold);
      return;
    }
    emit(std::string_view(pending_).substr(0, at), out);
    pending_.erase(0, at + found.size());
    if (found == kChannelOpen) {
      channel_ = Channel::kThought;
      header_ = true;
    } else if (found == kCallOpen) {
      channel_ = Channel::kToolCall;
      calls_.emplace_back();
    } else {
      channel_ = Channel::kAnswer;
    }
  }
}

void StreamSplitter::finish(std::vector<ChannelText>& out) {
  header_ = false;
  emit(pending_, out);
  pending_.clear();
}

SplitReply split_reply(std::string_view text, bool in_thought) {
  StreamSplitter s(in_thought);
  std::vector<ChannelText> ignored;
  s.push(text, ignored);
  s.finish(ignored);
  return {s.answer(), s.reasoning(), s.calls(), s.call_open()};
}

}  // namespace gemmad::chat
