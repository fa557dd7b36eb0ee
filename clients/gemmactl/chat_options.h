// The chat verb's options, shared by the command line and the REPL's /set: every sampling
// parameter of SamplingParams (ipc/proto/gemmad.proto) with the daemon's defaults.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "chat_tools.h"
#include "common/result.h"
#include "ipc/proto/gemmad.pb.h"

namespace gemmad::ctl {

// Defaults are the daemon's (Gemma 4's recommended sampling, docs/ARCHITECTURE.md), so --help
// states what an unset option means.
struct SamplingArgs {
  float temp = 1.0f;
  int top_k = 64;
  float top_p = 0.95f;
  float min_p = 0.0f;
  float repeat_penalty = 1.0f;
  int64_t seed = -1;      // -1: a fresh seed per turn
  int max_tokens = 1024;  // generate::kDefaultMaxTokens (verb_chat.cpp asserts they agree)
  bool ignore_eos = false;
};

struct ChatArgs {
  std::string session;
  bool new_session = false;
  std::string system;
  std::string title;
  bool think = false;
  bool json = false;
  std::string use_model;  // -m/--use: the daemon's model; empty = the session's or the first
  SamplingArgs sampling;
  std::string text;
  // --image FILE / --audio FILE (repeatable): sent with the first turn, before its text.
  std::vector<std::string> images, audios;
  ToolArgs tools;  // --tools, --tool-choice, --schema, --json-object, --stop, ... (chat_tools.h)
};

// --temp, --top-k, --top-p, --min-p, --repeat-penalty, --seed, -n/--max-tokens, --ignore-eos,
// each with its default in --help and its range checked (exit 2).
void add_sampling_options(CLI::App* cmd, SamplingArgs& s);

// The request's SamplingParams: every value set explicitly (seed only when >= 0).
void fill_sampling(const SamplingArgs& s, v1::SamplingParams* out);

// The REPL's `/set NAME VALUE` (names as the flags without "--": temp, top-k, ...). Error
// kInvalidArgument naming the name, the value and the allowed range.
Status set_sampling(SamplingArgs& s, const std::string& name, const std::string& value);
// "temp 1 top-k 64 ..." for `/set` without arguments.
std::string describe_sampling(const SamplingArgs& s);

}  // namespace gemmad::ctl
