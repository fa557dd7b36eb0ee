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

void print_json(const nlohmann::json& doc) {
  std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
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
