// `gemmactl chat`: one turn of a stored conversation, or a REPL without TEXT. Tokens stream
// to stdout as they arrive; Ctrl-C cancels the turn (not the session).
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "chat_options.h"
#include "cli.h"
#include "daemon_link.h"
#include "generate/generation.h"
#include "repl.h"

namespace gemmad::ctl {
namespace {

static_assert(SamplingArgs{}.max_tokens == generate::kDefaultMaxTokens,
              "gemmactl chat's -n default is the engine's one default");

// Done.tool_calls as [{"id", "name", "arguments"}], arguments the parsed JSON object.
nlohmann::json calls_json(const v1::Done& d) {
  nlohmann::json calls = nlohmann::json::array();
  for (const v1::ToolCall& c : d.tool_calls()) {
    nlohmann::json args = nlohmann::json::parse(c.arguments_json(), nullptr, false);
    calls.push_back(
        {{"id", c.id()},
         {"name", c.name()},
         {"arguments", args.is_discarded() ? nlohmann::json(c.arguments_json()) : args}});
  }
  return calls;
}

nlohmann::json done_json(const v1::Done& d, const std::string& text) {
  nlohmann::json j = {{"session", d.session_id()},
                      {"text", text},
                      {"stop_reason", stop_reason_name(d.stop_reason())},
                      {"model", d.model()},
                      {"usage",
                       {{"prompt_tokens", d.usage().prompt_tokens()},
                        {"completion_tokens", d.usage().completion_tokens()},
                        {"cached_tokens", d.usage().cached_tokens()},
                        {"turns_left_out", d.usage().turns_left_out()}}},
                      {"timings",
                       {{"queue_ms", d.timings().queue_ms()},
                        {"prefill_ms", d.timings().prefill_ms()},
                        {"decode_ms", d.timings().decode_ms()},
                        {"prefill_tok_s", d.timings().prefill_tok_s()},
                        {"decode_tok_s", d.timings().decode_tok_s()}}}};
  j["tool_calls"] = calls_json(d);
  j["reasoning"] = d.reasoning();
  if (d.stop_reason() == v1::STOP_REASON_TOOL_CALL_INVALID) {
    j["raw_tool_call"] = d.raw_tool_call();
    j["tool_call_error"] = d.tool_call_error();
  }
  return j;
}

// After the streamed answer: each call as "tool_call ID NAME ARGUMENTS" on stdout (printed,
// never run), or why the model's call did not parse on stderr (exit 5). Only with --tools:
// without declarations a call-shaped reply is the model's text, reported in --json only.
int report_calls(const Globals& g, const v1::Done& d, bool tools_declared) {
  if (!tools_declared) return kExitOk;
  if (d.stop_reason() == v1::STOP_REASON_TOOL_CALL_INVALID) {
    if (!g.json) {
      std::cerr << "gemmactl: the model's tool call did not parse: " << d.tool_call_error() << "\n"
                << d.raw_tool_call() << "\n";
    }
    return kExitToolCallInvalid;
  }
  if (!g.json) {
    for (const v1::ToolCall& c : d.tool_calls())
      std::cout << "tool_call " << c.id() << " " << c.name() << " " << c.arguments_json() << "\n";
  }
  return kExitOk;
}

// The --image and --audio files as media parts before the text (the daemon checks them).
// Consumed: a REPL sends them with its first turn only.
Status attach_media(ChatArgs& args, v1::ChatRequest& req) {
  auto add = [&](const std::string& path, v1::MediaKind kind) -> Status {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return make_error(ErrorCode::kInvalidArgument,
                        std::string(kind == v1::MEDIA_KIND_IMAGE ? "--image" : "--audio") + " '" +
                            path + "' cannot be read");
    }
    v1::MediaPart* part = req.add_media();
    part->set_kind(kind);
    part->set_data(std::string(std::istreambuf_iterator<char>(in), {}));
    return {};
  };
  for (const std::string& p : args.images)
    GEMMAD_TRY(add(p, v1::MEDIA_KIND_IMAGE));
  for (const std::string& p : args.audios)
    GEMMAD_TRY(add(p, v1::MEDIA_KIND_AUDIO));
  args.images.clear();
  args.audios.clear();
  return {};
}

// One turn. Returns the exit code; updates args.session to the turn's session.
int one_turn(client::Client& c, const Globals& g, ChatArgs& args, const std::string& text) {
  v1::ChatRequest req;
  req.set_session_id(args.session);
  req.set_new_session(args.session.empty());
  req.set_system_prompt(args.system);
  req.set_title(args.title);
  req.set_user_text(text);
  req.set_thinking(args.think);
  req.set_model(args.use_model);
  fill_sampling(args.sampling, req.mutable_sampling());
  if (Status st = attach_media(args, req); !st.ok()) {
    return report_error(g, "usage", st.error().message, kExitUsage);
  }
  if (Status st = apply_tool_args(args.tools, req); !st.ok()) {
    return report_error(g, "usage", st.error().message, kExitUsage);
  }
  std::string reply;
  bool in_thought = false;
  InterruptScope scope(c);
  auto done = c.chat(req, [&](const v1::Token& t) {
    if (t.channel() == v1::CHANNEL_THOUGHT) {
      // Thoughts are never answer text: on stderr between markers, and only when asked.
      if (args.tools.show_thoughts && !args.json) {
        if (!in_thought) std::cerr << "[thinking] ";
        std::cerr << t.text() << std::flush;
      }
      in_thought = true;
      return;
    }
    if (in_thought && args.tools.show_thoughts && !args.json) std::cerr << "\n[/thinking]\n";
    in_thought = false;
    if (t.channel() != v1::CHANNEL_ANSWER) return;  // calls are printed once parsed
    reply += t.text();
    if (!args.json) std::cout << t.text() << std::flush;
  });
  if (!done.ok()) return report_client_error(g, done.error());
  if (in_thought && args.tools.show_thoughts && !args.json) std::cerr << "\n[/thinking]\n";
  args.session = done->session_id();
  if (args.json) {
    print_json(done_json(*done, reply));
  } else {
    std::cout << "\n";
  }
  const int calls_code = report_calls(g, *done, req.tools_size() > 0);
  if (calls_code != kExitOk) return calls_code;
  return stream_exit_code(g, done->stop_reason());
}

int run_chat(const Globals& g, ChatArgs args) {
  if (!args.session.empty() && args.new_session) {
    return report_error(g, "usage", "--session and --new exclude each other", kExitUsage);
  }
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  if (!args.session.empty()) {
    auto full = resolve_session_id(*c, args.session);
    if (!full.ok()) return report_client_error(g, full.error());
    args.session = *full;
  }
  if (args.tools.thinking_budget >= 0 && !args.think) {
    return report_error(g, "usage", "--thinking-budget needs --think", kExitUsage);
  }
  if (!args.tools.tool_results.empty() && args.session.empty()) {
    return report_error(g, "usage", "--tool-result needs --session (the turn that made the calls)",
                        kExitUsage);
  }
  if (!args.text.empty() || !args.tools.tool_results.empty()) {
    code = one_turn(*c, g, args, args.text);
    if (!args.json && code != kExitError) std::cerr << "session " << args.session << "\n";
    return code;
  }
  const int code_after = run_repl(*c, g, args, [&](ChatArgs& a, const std::string& text) {
    const int turn_code = one_turn(*c, g, a, text);
    InterruptScope::clear();
    return turn_code;
  });
  if (!args.session.empty() && !args.json) std::cerr << "session " << args.session << "\n";
  return code_after;
}

void add_chat_verb(VerbContext& ctx) {
  auto args = std::make_shared<ChatArgs>();
  CLI::App* cmd = ctx.root.add_subcommand(
      "chat", "a turn of a stored conversation (an interactive REPL without TEXT)");
  cmd->add_option("--session", args->session, "continue this session (id or a unique prefix)");
  cmd->add_flag("--new", args->new_session, "start a new session (the default without --session)");
  cmd->add_option("--system", args->system, "system prompt of a new session");
  cmd->add_option("--title", args->title, "title of a new session");
  cmd->add_flag("--think", args->think, "let the model think before answering");
  cmd->add_option("-m,--use", args->use_model,
                  "the daemon's model to answer (`gemmactl model ls`; default: the session's, "
                  "or the daemon's first)");
  add_sampling_options(cmd, args->sampling);
  // One file per flag, so `--image a.png TEXT` leaves TEXT to the message.
  cmd->add_option("--image", args->images, "a PNG or JPEG file sent with the turn; repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--audio", args->audios, "a WAV file sent with the turn; repeatable")
      ->allow_extra_args(false);
  ToolArgs& t = args->tools;
  cmd->add_option("--tools", t.tools_file,
                  "a JSON file: an array of tool declarations (OpenAI-style or {name, "
                  "description, parameters}); the model's calls are printed, not run");
  cmd->add_option("--tool-choice", t.tool_choice,
                  "auto (default), none, required, or a tool NAME the reply must call");
  auto* schema =
      cmd->add_option("--schema", t.schema_file, "the answer is JSON valid under this JSON Schema");
  cmd->add_flag("--json-object", t.json_object, "the answer is one JSON value")->excludes(schema);
  cmd->add_option("--thinking-budget", t.thinking_budget,
                  "with --think: thought tokens before the thought is closed")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_flag("--show-thoughts", t.show_thoughts,
                "print the thought channel to stderr between [thinking] and [/thinking]");
  cmd->add_option("--stop", t.stop, "stop before this string; repeatable, up to 4")
      ->allow_extra_args(false);
  cmd->add_option("--tool-result", t.tool_results,
                  "ID=CONTENT: the result of the previous turn's call ID (CONTENT JSON or text, "
                  "@FILE to read it; empty ID = the calls in order); repeatable; TEXT optional")
      ->allow_extra_args(false);
  cmd->add_flag("--json", args->json, "print one JSON document per turn");
  cmd->add_option("text", args->text, "the message (omit for a REPL)");
  cmd->callback([&ctx, args] {
    ctx.globals.json = args->json;
    ctx.exit_code = run_chat(ctx.globals, *args);
  });
}

}  // namespace
GEMMACTL_VERB(50, add_chat_verb);
}  // namespace gemmad::ctl
