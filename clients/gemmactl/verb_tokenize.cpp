// `gemmactl tokenize [--model FILE] [--special] [--bos] [--json] [TEXT | -]` and
// `gemmactl detokenize [--model FILE] [--json] IDS...` (docs/DESIGN.md command-line contract):
// text to ids without BOS unless --bos, and ids back to text.
//
// Where the tokenizer comes from is one function, open_backend(): --model FILE (or
// $GEMMAD_MODEL) runs in-process on that GGUF; otherwise the daemon's model tokenizes
// (TokenizeRequest / DetokenizeRequest of ipc/proto/gemmad.proto).
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "daemon_link.h"
#include "ipc/socket_path.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::ctl {
namespace {

using tokenizer::TokenId;

struct Backend {
  std::function<Result<std::vector<TokenId>>(const std::string& text, bool bos, bool special)>
      tokenize;
  std::function<Result<std::string>(const std::vector<TokenId>& ids, bool render_special)>
      detokenize;
};

// The offline backend: the tokenizer.ggml.* keys of a vocabulary-only or full model GGUF.
Result<Backend> offline_backend(const std::string& model) {
  GEMMAD_ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::Tokenizer> loaded,
                          tokenizer::Tokenizer::load(model));
  std::shared_ptr<const tokenizer::Tokenizer> tok = std::move(loaded);
  Backend b;
  b.tokenize = [tok](const std::string& text, bool bos,
                     bool special) -> Result<std::vector<TokenId>> {
    return tok->encode(text, {.add_bos = bos, .parse_special = special});
  };
  b.detokenize = [tok](const std::vector<TokenId>& ids, bool render_special) {
    return tok->decode(ids, {.render_special = render_special});
  };
  return b;
}

// The daemon backend: the running gemmad's model. A connection failure is kIo with a message
// starting "cannot reach gemmad", which report_open_error turns into exit 3.
Result<Backend> daemon_backend(const Globals& g) {
  const std::string path = ipc::resolve_socket_path(g.socket);
  auto connected = client::Client::connect(path);
  if (!connected.ok()) {
    // The client's message starts "cannot reach gemmad at PATH".
    return make_error(ErrorCode::kIo,
                      connected.error().message + " (or pass --model FILE for an offline run)");
  }
  auto c = std::make_shared<client::Client>(std::move(connected).value());
  if (auto hello = c->hello(app_name(g)); !hello.ok()) return hello.error();
  Backend b;
  b.tokenize = [c](const std::string& text, bool bos,
                   bool special) -> Result<std::vector<TokenId>> {
    GEMMAD_ASSIGN_OR_RETURN(v1::TokenizeReply r, c->tokenize(text, bos, special));
    return std::vector<TokenId>(r.ids().begin(), r.ids().end());
  };
  b.detokenize = [c](const std::vector<TokenId>& ids, bool) -> Result<std::string> {
    const std::vector<uint32_t> wire(ids.begin(), ids.end());
    GEMMAD_ASSIGN_OR_RETURN(v1::DetokenizeReply r, c->detokenize(wire));
    return r.text();
  };
  return b;
}

// --model, else $GEMMAD_MODEL, else the daemon.
Result<Backend> open_backend(const std::string& model_flag, const Globals& g) {
  std::string model = model_flag;
  if (model.empty()) {
    if (const char* env = std::getenv("GEMMAD_MODEL"); env != nullptr) model = env;
  }
  if (!model.empty()) return offline_backend(model);
  return daemon_backend(g);
}

// Usage errors exit 2; unreachable daemon 3; a model file that cannot be opened or read 4.
int report_open_error(const Globals& g, const Error& e) {
  if (e.code == ErrorCode::kInvalidArgument) {
    return report_error(g, error_code_name(e.code), e.message, kExitUsage);
  }
  if (e.code == ErrorCode::kIo && e.message.rfind("cannot reach gemmad", 0) == 0) {
    return report_error(g, "unreachable", e.message, kExitNoDaemon);
  }
  return report_model_error(g, e);  // the --model FILE could not be opened or read
}

struct TokenizeArgs {
  std::string model;
  bool special = false;
  bool bos = false;
  std::string text;
  bool have_text = false;
};

int run_tokenize(const TokenizeArgs& a, const Globals& g) {
  std::string text = a.text;
  if (!a.have_text || text == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  Result<Backend> backend = open_backend(a.model, g);
  if (!backend.ok()) return report_open_error(g, backend.error());
  Result<std::vector<TokenId>> ids = backend->tokenize(text, a.bos, a.special);
  if (!ids.ok()) return report_error(g, ids.error());
  if (g.json) {
    print_json({{"ids", *ids}});
  } else {
    std::string line;
    for (size_t i = 0; i < ids->size(); ++i) {
      if (i > 0) line += ' ';
      line += std::to_string((*ids)[i]);
    }
    std::cout << line << "\n";
  }
  return kExitOk;
}

struct DetokenizeArgs {
  std::string model;
  bool skip_special = false;
  std::vector<std::string> ids;  // each may hold several ids separated by spaces or commas
};

// Parses "2 105", "2,105" and separate arguments alike; errors name the bad argument.
Result<std::vector<TokenId>> parse_ids(const std::vector<std::string>& args) {
  std::vector<TokenId> ids;
  for (const std::string& arg : args) {
    size_t pos = 0;
    while (pos < arg.size()) {
      const size_t start = arg.find_first_not_of(" \t\n,", pos);
      if (start == std::string::npos) break;
      size_t end = arg.find_first_of(" \t\n,", start);
      if (end == std::string::npos) end = arg.size();
      const std::string word = arg.substr(start, end - start);
      char* stop = nullptr;
      errno = 0;
      const long long v = std::strtoll(word.c_str(), &stop, 10);
      if (stop != word.c_str() + word.size() || errno != 0 || v < 0 || v > INT32_MAX) {
        return make_error(ErrorCode::kInvalidArgument,
                          "'" + word + "' is not a token id (a non-negative integer)");
      }
      ids.push_back(static_cast<TokenId>(v));
      pos = end;
    }
  }
  return ids;
}

int run_detokenize(const DetokenizeArgs& a, const Globals& g) {
  Result<std::vector<TokenId>> ids = parse_ids(a.ids);
  if (!ids.ok()) return report_error(g, "invalid_argument", ids.error().message, kExitUsage);
  Result<Backend> backend = open_backend(a.model, g);
  if (!backend.ok()) return report_open_error(g, backend.error());
  Result<std::string> text = backend->detokenize(*ids, !a.skip_special);
  if (!text.ok()) return report_error(g, text.error());
  if (g.json) {
    print_json({{"text", *text}});
  } else {
    std::cout << *text << "\n";
  }
  return kExitOk;
}

void add_tokenize_verbs(VerbContext& ctx) {
  Globals* g = &ctx.globals;
  int* exit_code = &ctx.exit_code;

  CLI::App* tok = ctx.root.add_subcommand("tokenize", "text to token ids (no BOS unless --bos)");
  auto targs = std::make_shared<TokenizeArgs>();
  tok->add_option("--model", targs->model,
                  "run in-process on this GGUF (vocabulary-only or full model); default "
                  "$GEMMAD_MODEL");
  tok->add_flag("--special", targs->special, "parse control-token text such as <|turn>");
  tok->add_flag("--bos", targs->bos, "prepend <bos>");
  tok->add_flag("--json", g->json, "print {\"ids\": [...]}");
  CLI::Option* text_opt = tok->add_option("TEXT", targs->text, "text, or - for stdin (default)");
  tok->callback([targs, g, exit_code, text_opt] {
    targs->have_text = text_opt->count() > 0;
    *exit_code = run_tokenize(*targs, *g);
  });

  CLI::App* detok = ctx.root.add_subcommand("detokenize", "token ids to text");
  auto dargs = std::make_shared<DetokenizeArgs>();
  detok->add_option("--model", dargs->model,
                    "run in-process on this GGUF (vocabulary-only or full model); default "
                    "$GEMMAD_MODEL");
  detok->add_flag("--skip-special", dargs->skip_special,
                  "leave control tokens such as <|turn> out of the text");
  detok->add_flag("--json", g->json, "print {\"text\": ...}");
  detok->add_option("IDS", dargs->ids, "token ids (separate arguments, or \"2 105 ...\")")
      ->required();
  detok->callback([dargs, g, exit_code] { *exit_code = run_detokenize(*dargs, *g); });
}

}  // namespace

GEMMACTL_VERB(30, add_tokenize_verbs);

}  // namespace gemmad::ctl
