// The turn service: the one place where a request becomes a generation and a stored turn,
// for every front-end (the protobuf socket's router, the OpenAI-compatible HTTP socket).
// It knows no protobuf and no HTTP: a front-end translates its wire format into a
// TurnRequest, implements TurnStream, and translates the callbacks back.
//
// Pipeline of one request (docs/ARCHITECTURE.md "Turn service"): validate -> resolve the
// model (mapping it again if keep_alive unloaded it) -> load or create the session ->
// render the prompt (oldest whole turns left out when the history does not fit the
// context) -> tokenize -> schedule on the one inference thread -> stream tokens -> commit
// the turn to the store -> exactly one on_done.
//
// Threads. The service lives on one io thread (the io_context it is built with). start(),
// cancel(), models(), status() and add_finished_listener() must be called on that thread
// (a front-end running elsewhere posts to it). TurnStream::on_start and on_done run on the
// io thread; on_token and writable run on the inference thread and must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_format.h"
#include "chat/stream_splitter.h"
#include "common/result.h"
#include "daemon/media_admission.h"
#include "daemon/media_encoders.h"

namespace gemmad::daemon {

// Who is asking; the front-end fills it from the peer's credentials (SO_PEERCRED).
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;
  std::string app_name;                // protobuf: Hello.app_name; HTTP: X-Gemmad-App or "http"
  std::string front_end = "protobuf";  // "protobuf" | "http": labels metrics and log lines
};

// A call the model made (TurnOutcome) or made earlier (ChatMessage): `id` is "call_..." (the
// front-ends' handle to match a result to its call), arguments a JSON object text.
struct ToolCallOut {
  std::string id;
  std::string name;
  std::string arguments_json;
};

// One message of a stateless chat, as an OpenAI client sends the whole list each time.
struct ChatMessage {
  enum class Role { kSystem, kUser, kAssistant, kTool };
  Role role = Role::kUser;
  std::string text;
  std::vector<ToolCallOut> tool_calls;  // kAssistant: the calls it made
  std::string tool_name;                // kTool: the function (or found from tool_call_id)
  std::string tool_call_id;             // kTool: the call it answers
};

// A tool's result sent back in a stored chat (ChatRequest.tool_results).
struct ToolResultIn {
  std::string name;     // the function; "" = the name of the call `call_id` names
  std::string call_id;  // the call it answers ("" = the calls in order)
  std::string content;  // a JSON object, or any text
};

// Which tools the model may call (docs/ARCHITECTURE.md "Channels, tools and constrained output").
struct ToolChoice {
  enum class Mode { kAuto, kNone, kRequired, kFunction };
  Mode mode = Mode::kAuto;
  std::string function;  // kFunction: the one function it must call
};

// What the answer must be.
struct ResponseFormat {
  enum class Type { kText, kJsonObject, kJsonSchema };
  Type type = Type::kText;
  std::string schema_json;  // kJsonSchema
  bool strict = true;       // kJsonSchema: the grammar always enforces the schema
};

// What the request is.
enum class TurnKind {
  kStoredChat,     // one new user turn of a stored session (created if new)
  kStatelessChat,  // a whole message list; nothing stored; a repeated prefix reuses cached KV
  kCompletion,     // prompt text, raw (BOS + text) or wrapped as one user turn; nothing stored
};

// kStoredChat fields.
struct StoredChat {
  std::string session_id;  // the session to continue; empty = a new session
  bool new_session = false;
  std::string system_prompt;  // of a new session; ignored when continuing
  std::string title;          // of a new session; empty = derived from user_text
  std::string user_text;      // non-empty unless tool_results are given
  // Results of the calls the session's last model message made; the reply continues it.
  std::vector<ToolResultIn> tool_results;
};

// kStatelessChat fields. Rules: at most one system message, first; the last message is the
// user's; user and assistant messages alternate otherwise (consecutive ones of one role
// are joined by a blank line, as the chat template has one turn per role change).
struct StatelessChat {
  std::vector<ChatMessage> messages;
};

// kCompletion fields.
struct Completion {
  std::string prompt;
  bool raw = false;  // true: BOS + prompt, no template; false: wrapped as one user turn
};

inline constexpr size_t kMaxStopStrings = 4;

// Generation parameters; unset fields take Gemma 4's recommended defaults
// (docs/ARCHITECTURE.md "Generation loop"): temperature 1.0, top_k 64, top_p 0.95.
struct GenerationParams {
  std::optional<float> temperature;  // [0, 100]; 0 = greedy
  std::optional<int32_t> top_k;      // >= 0; 0 = off
  std::optional<float> top_p;        // (0, 1]
  std::optional<float> min_p;        // [0, 1)
  std::optional<float> repeat_penalty;
  std::optional<uint64_t> seed;        // unset = a fresh seed per request
  std::optional<uint32_t> max_tokens;  // unset = kDefaultMaxTokens (engine generation.h)
  bool ignore_eos = false;             // keep generating past end-of-turn (benchmarks)
  // Up to kMaxStopStrings non-empty strings: generation stops before the first occurrence;
  // the matched string is not part of the text. More is an error naming the limit.
  std::vector<std::string> stop;
};

struct TurnRequest {
  Caller caller;
  std::string model;  // a configured model's name; "" = the first (default) model
  TurnKind kind = TurnKind::kStoredChat;
  StoredChat chat;          // kStoredChat
  StatelessChat stateless;  // kStatelessChat
  Completion completion;    // kCompletion
  bool thinking = false;    // Gemma 4 thinking mode (chat kinds)
  // Thought tokens before `<channel|>` is forced (thinking on); unset = until max_tokens.
  std::optional<uint32_t> thinking_budget;
  std::vector<chat::ToolDeclaration> tools;  // chat kinds and wrapped completions
  ToolChoice tool_choice;
  ResponseFormat response_format;
  GenerationParams params;
  // Per-request keep_alive of the model (Ollama's meaning): idle this long after this
  // request, the model is unmapped. Unset = the model's configured keep_alive.
  std::optional<std::chrono::milliseconds> keep_alive;
  // Images and audio of the (last) user message, or of the completion prompt (issue 11).
  std::vector<MediaInput> media;
};

// Handed to on_start, before any token.
struct TurnStartInfo {
  std::string session_id;  // kStoredChat: the session (new or continued); else empty
  std::string model;       // the resolved model name
  uint32_t prompt_tokens = 0;
  uint32_t turns_left_out = 0;  // oldest whole turns not in the prompt (context did not fit)
};

// Why generation ended.
enum class TurnStop {
  kEos,              // the file's tokenizer.ggml.eos_token_id
  kStopToken,        // an end-of-turn token of the chat template
  kStopString,       // one of GenerationParams::stop
  kMaxTokens,        // max_tokens generated
  kContextFull,      // the context has no room for another token
  kCancelled,        // cancel() or the client went away
  kShutdown,         // drained at shutdown (not the client's doing)
  kError,            // see TurnOutcome::status
  kToolCalls,        // the reply made tool calls (TurnOutcome::tool_calls)
  kToolCallInvalid,  // a call did not parse: TurnOutcome::raw_tool_call and tool_call_error
};
const char* turn_stop_name(TurnStop s);

// How the model's message is stored (and would be shown): kTruncated for kMaxTokens and
// kContextFull, kInterrupted for kCancelled and kShutdown, else kComplete.
enum class TurnMessageStatus { kComplete, kTruncated, kInterrupted };

struct TurnUsage {
  uint32_t prompt_tokens = 0;
  uint32_t cached_tokens = 0;  // prompt tokens whose KV was reused
  uint32_t completion_tokens = 0;
  uint32_t turns_left_out = 0;
};

struct TurnTimings {
  double queue_ms = 0;    // arrival -> admission into the running batch
  double prefill_ms = 0;  // admission -> first token
  double ttft_ms = 0;     // arrival -> first token (queue + prefill)
  double decode_ms = 0;   // first token -> last token
};

struct TurnOutcome {
  // ok, or the Error that ended the request after it started (e.g. the store refused the
  // commit; a forward pass failed). Then `stop` is kError.
  Status status;
  TurnStop stop = TurnStop::kEos;
  TurnMessageStatus message_status = TurnMessageStatus::kComplete;
  std::string text;       // the answer; thoughts, calls, stop token and stop string excluded
  std::string reasoning;  // the thought channel's text (never stored)
  std::vector<ToolCallOut> tool_calls;  // kToolCalls
  std::string raw_tool_call;            // kToolCallInvalid (or an unclosed call at max_tokens)
  std::string tool_call_error;          // kToolCallInvalid: why it did not parse
  std::string session_id;
  std::string model;
  TurnUsage usage;
  TurnTimings timings;
};

// Implemented by the front-end, one per request. The service holds it (shared_ptr) until
// on_done has returned.
class TurnStream {
 public:
  virtual ~TurnStream() = default;
  // io thread; once, inside a successful start(), before any on_token.
  virtual void on_start(const TurnStartInfo& info) = 0;
  // Inference thread. A piece of text became complete (may be empty while UTF-8 is held back
  // or text is held back as a possible stop string prefix). Return false when the
  // front-end's bounded queue is full: the sequence pauses until writable() turns true
  // (call TurnService::wake() when it may have).
  virtual bool on_token(int32_t token_id, const std::string& text) = 0;
  // Inference thread. The same, with the channel the text belongs to (the model's output is
  // split by chat::StreamSplitter; markers never reach a front-end). The default passes the
  // answer to on_token and drops thoughts and call text (front-ends that know no channels).
  virtual bool on_channel_text(int32_t token_id, const std::string& text, chat::Channel channel) {
    return channel == chat::Channel::kAnswer ? on_token(token_id, text) : true;
  }
  // Inference thread.
  virtual bool writable() = 0;
  // io thread; exactly once per successful start(), after the turn is committed.
  virtual void on_done(TurnOutcome outcome) = 0;
};

using TurnHandle = uint64_t;

// A model the service knows: configured, or (models_dir listing) a GGUF file not configured.
struct ModelEntry {
  std::string name;  // the request's model name
  std::string path;
  bool configured = true;  // false: a file in the models directory, not servable by name
  bool is_default = false;
  bool loaded = false;          // mapped now
  uint64_t file_bytes = 0;      // size of the GGUF file
  uint64_t resident_bytes = 0;  // bytes of the mapping in RAM now (mincore)
  int64_t last_used_ms = 0;     // Unix ms of the last request's end; 0 = never
  int64_t keep_alive_ms = 0;    // idle time before unmapping; < 0 = never unmapped
  uint32_t n_ctx = 0;           // effective: min(context_length, n_ctx_train); 0 if unknown
  std::string variant;          // "e2b", "e4b", "custom"; "" if not loaded yet
  uint32_t vocab_size = 0;
  uint32_t active = 0;                     // requests of this model running or queued
  std::string mmproj_path;                 // its encoders file; "" = text only
  std::vector<ModalityStatus> modalities;  // per tower of the mmproj, when mapped
};

struct ServiceStatus {
  uint32_t in_flight = 0;  // started requests whose on_done has not run
  uint32_t active = 0;     // sequences in the running batch
  uint32_t queued = 0;
  uint64_t steps = 0;
  uint64_t tokens_generated = 0;
  uint64_t prompt_tokens = 0;
  uint64_t kv_bytes = 0;
  uint64_t kv_restored = 0;                         // sessions continued from a saved KV file
  std::map<uint32_t, uint64_t> decode_batch_sizes;  // sequences per decode step -> steps
  int64_t sessions_stored = 0;
  double uptime_s = 0;
  std::vector<ModelEntry> models;  // configured models only
};

// One finished request, for metrics and the one log line per request. Also reported for
// requests start() refused (then `started` is false and status holds the error).
struct FinishedRequest {
  std::string front_end;
  std::string model;
  std::string app_name;
  uint32_t uid = 0;
  bool started = false;
  Status status;  // error code of a failed request
  TurnStop stop = TurnStop::kError;
  TurnUsage usage;
  double queue_ms = 0;
  double ttft_ms = 0;
  double decode_ms = 0;
};
using FinishedListener = std::function<void(const FinishedRequest&)>;

// The service's interface; TurnServiceImpl (turn_service_impl.h) is the real one.
class TurnService {
 public:
  virtual ~TurnService() = default;

  // Validates and queues a request. On success on_start has run and exactly one on_done
  // follows. Errors (no callback runs): kInvalidArgument a field is malformed (the message
  // names it, its value and the limit); kNotFound unknown model or session (or a session
  // of another app); kOutOfRange a text over a byte limit, or a single new message that
  // cannot fit the context alone ("context_full"; no session is created);
  // kResourceExhausted busy (queue full); kCancelled shutting down.
  virtual Result<TurnHandle> start(TurnRequest request, std::shared_ptr<TurnStream> stream) = 0;
  // Stops the request within one step; its on_done reports kCancelled (kInterrupted text is
  // stored for a stored chat). Unknown or finished handles are ignored.
  virtual void cancel(TurnHandle handle) = 0;
  // A paused stream may have become writable (thread-safe).
  virtual void wake() = 0;
  // Configured models, then (with_files) GGUF files of the models directory not configured.
  virtual std::vector<ModelEntry> models(bool with_files) const = 0;
  virtual ServiceStatus status() const = 0;
  virtual void add_finished_listener(FinishedListener listener) = 0;
};

}  // namespace gemmad::daemon
