// The chat verb's sampling options (see chat_options.h).
#include "chat_options.h"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <vector>

namespace gemmad::ctl {
namespace {

// One option, declared once for CLI11 and for /set: its flags, /set name, range, member.
template <typename T>
struct Field {
  const char* flags;
  const char* name;
  const char* help;
  double lo, hi;
  T SamplingArgs::*member;
};

const Field<float> kFloats[] = {
    {"--temp", "temp", "sampling temperature (0 = greedy)", 0.0, 100.0, &SamplingArgs::temp},
    {"--top-p", "top-p", "nucleus: keep the most likely tokens up to this mass", 0.0, 1.0,
     &SamplingArgs::top_p},
    {"--min-p", "min-p", "drop tokens below this fraction of the best one's probability", 0.0, 1.0,
     &SamplingArgs::min_p},
    {"--repeat-penalty", "repeat-penalty", "penalty on tokens already in the context (1 = none)",
     0.0, 10.0, &SamplingArgs::repeat_penalty},
};
const Field<int> kInts[] = {
    {"--top-k", "top-k", "keep the k most likely tokens (0 = all)", 0, 1 << 20,
     &SamplingArgs::top_k},
    {"-n,--max-tokens", "max-tokens", "most tokens in the reply", 1, 131072,
     &SamplingArgs::max_tokens},
};

Result<double> parse_number(const std::string& name, const std::string& value, double lo,
                            double hi) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || errno != 0 || *end != '\0' || v < lo || v > hi) {
    std::ostringstream m;
    m.precision(12);
    m << name << ": '" << value << "' is not a number in [" << lo << ", " << hi << "]";
    return make_error(ErrorCode::kInvalidArgument, m.str());
  }
  return v;
}

}  // namespace

void add_sampling_options(CLI::App* cmd, SamplingArgs& s) {
  for (const auto& f : kFloats) {
    cmd->add_option(f.flags, s.*(f.member), f.help)
        ->check(CLI::Range(f.lo, f.hi))
        ->capture_default_str();
  }
  for (const auto& f : kInts) {
    cmd->add_option(f.flags, s.*(f.member), f.help)
        ->check(CLI::Range(static_cast<int>(f.lo), static_cast<int>(f.hi)))
        ->capture_default_str();
  }
  cmd->add_option("--seed", s.seed, "sampling seed (-1 = a fresh one each turn)")
      ->check(CLI::Range(int64_t{-1}, INT64_MAX))
      ->capture_default_str();
  cmd->add_flag("--ignore-eos", s.ignore_eos,
                "keep going through end-of-turn until -n tokens (benchmarks, tests)");
}

void fill_sampling(const SamplingArgs& s, v1::SamplingParams* out) {
  out->set_temperature(s.temp);
  out->set_top_k(s.top_k);
  out->set_top_p(s.top_p);
  out->set_min_p(s.min_p);
  out->set_repeat_penalty(s.repeat_penalty);
  out->set_max_tokens(static_cast<uint32_t>(s.max_tokens));
  out->set_ignore_eos(s.ignore_eos);
  if (s.seed >= 0) out->set_seed(static_cast<uint64_t>(s.seed));
}

Status set_sampling(SamplingArgs& s, const std::string& name, const std::string& value) {
  for (const auto& f : kFloats) {
    if (name != f.name) continue;
    GEMMAD_ASSIGN_OR_RETURN(double v, parse_number(name, value, f.lo, f.hi));
    s.*(f.member) = static_cast<float>(v);
    return {};
  }
  for (const auto& f : kInts) {
    if (name != f.name) continue;
    GEMMAD_ASSIGN_OR_RETURN(double v, parse_number(name, value, f.lo, f.hi));
    if (v != static_cast<int>(v)) {
      return make_error(ErrorCode::kInvalidArgument,
                        name + ": '" + value + "' is not a whole number");
    }
    s.*(f.member) = static_cast<int>(v);
    return {};
  }
  if (name == "seed") {
    GEMMAD_ASSIGN_OR_RETURN(double v, parse_number(name, value, -1, 9.0e15));
    s.seed = static_cast<int64_t>(v);
    return {};
  }
  std::string names;
  for (const auto& f : kFloats)
    names += std::string(f.name) + " ";
  for (const auto& f : kInts)
    names += std::string(f.name) + " ";
  return make_error(ErrorCode::kInvalidArgument,
                    "/set: no option '" + name + "' (one of: " + names + "seed)");
}

std::string describe_sampling(const SamplingArgs& s) {
  std::ostringstream o;
  for (const auto& f : kFloats)
    o << f.name << " " << s.*(f.member) << "  ";
  for (const auto& f : kInts)
    o << f.name << " " << s.*(f.member) << "  ";
  o << "seed " << (s.seed < 0 ? std::string("random") : std::to_string(s.seed));
  return o.str();
}

}  // namespace gemmad::ctl
