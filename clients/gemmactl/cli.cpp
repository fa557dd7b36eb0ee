// gemmactl's shared plumbing: verb registry, error and JSON output.
#include "cli.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <utility>
#include <vector>

namespace gemmad::ctl {
namespace {
std::vector<std::pair<int, VerbRegistrar>>& registry() {
  static std::vector<std::pair<int, VerbRegistrar>> verbs;
  return verbs;
}
}  // namespace

bool register_verb(int order, VerbRegistrar fn) {
  registry().emplace_back(order, fn);
  return true;
}

void install_verbs(VerbContext& ctx) {
  auto verbs = registry();
  std::stable_sort(verbs.begin(), verbs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [order, fn] : verbs)
    fn(ctx);
}

int exit_code_for(const Error& e) {
  switch (e.code) {
    case ErrorCode::kBadModelFile:
      return kExitBadModel;
    case ErrorCode::kInvalidArgument:
      return kExitError;
    case ErrorCode::kCancelled:
      return kExitInterrupted;
    case ErrorCode::kIo:
    case ErrorCode::kNotFound:
    case ErrorCode::kOutOfRange:
    case ErrorCode::kUnsupported:
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kInternal:
      return kExitError;
  }
  return kExitError;
}

int report_error(const Globals& g, const std::string& code, const std::string& message,
                 int exit_code) {
  if (g.json) {
    nlohmann::json doc = {{"error", {{"code", code}, {"message", message}}}};
    std::cerr << doc.dump() << "\n";
  } else {
    std::cerr << "gemmactl: " << message << "\n";
  }
  return exit_code;
}

int report_error(const Globals& g, const Error& e) {
  return report_error(g, error_code_name(e.code), e.message, exit_code_for(e));
}

int report_model_error(const Globals& g, const Error& e) {
  return report_error(g, "bad_model_file", e.message, kExitBadModel);
}

int report_usage_error(const Globals& g, const std::string& message) {
  return report_error(g, "usage", message, kExitUsage);
}

namespace {
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}
}  // namespace

std::vector<std::string> closest_words(const std::string& word,
                                       const std::vector<std::string>& candidates) {
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& c : candidates) {
    // A prefix counts as close ("sess" -> "session"), as does a small edit.
    const size_t d = c.rfind(word, 0) == 0 ? 1 : edit_distance(word, c);
    if (d <= limit) scored.emplace_back(d, c);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (auto& [d, c] : scored) {
    if (d == scored.front().first) out.push_back(c);
  }
  return out;
}

void print_json(const nlohmann::json& doc) {
  std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

void add_output_option(CLI::App* verb, std::string& out, const std::string& description,
                       bool required) {
  CLI::Option* main = verb->add_option("-o,--output", out, description);
  CLI::Option* alias = verb->add_option("--out", out, description)->group("");  // older spelling
  if (required) {
    verb->parse_complete_callback([main, alias] {
      if (main->count() + alias->count() == 0) throw CLI::RequiredError("-o/--output FILE");
    });
  }
}

std::vector<std::string> verb_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  return names;
}

CLI::App* group(CLI::App& parent, const std::string& name, const std::string& description) {
  for (CLI::App* sub : parent.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == name) return sub;
  }
  CLI::App* sub = parent.add_subcommand(name, description);
  sub->require_subcommand(1);
  return sub;
}

Result<std::vector<int32_t>> parse_token_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::string s = text;
  for (char& ch : s) {
    if (ch == ',') ch = ' ';
  }
  std::istringstream in(s);
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(word.c_str(), &end, 10);
    if (errno != 0 || end == word.c_str() || *end != '\0' || v < 0 || v > INT32_MAX) {
      return make_error(ErrorCode::kInvalidArgument, "--ids: '" + word + "' is not a token id");
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) return make_error(ErrorCode::kInvalidArgument, "--ids: no token ids given");
  return ids;
}

}  // namespace gemmad::ctl
