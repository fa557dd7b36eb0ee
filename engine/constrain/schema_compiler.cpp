// JSON Schema subset -> grammar (docs/CONSTRAINED.md "The subset"), in either dialect; plus the
// Gemma 4 tool-call grammar and "any JSON value".
#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <set>

#include "constrain/constrain.h"
#include "constrain/grammar.h"
#include "constrain/value_rules.h"

namespace gemmad::constrain {
namespace {

using Json = nlohmann::ordered_json;
using Seq = GrammarBuilder::Seq;

const std::set<std::string, std::less<>> kAnnotations = {"title",    "description", "$schema",
                                                         "examples", "default",     "$comment"};
const std::set<std::string, std::less<>> kKeywords = {
    "type",     "properties",  "required",  "additionalProperties",
    "enum",     "const",       "items",     "minItems",
    "maxItems", "anyOf",       "oneOf",     "$ref",
    "$defs",    "definitions", "minLength", "maxLength",
    "pattern"};
const std::set<std::string, std::less<>> kObjectKeys = {"properties", "required",
                                                        "additionalProperties"};
const std::set<std::string, std::less<>> kArrayKeys = {"items", "minItems", "maxItems"};
const std::set<std::string, std::less<>> kStringKeys = {"minLength", "maxLength", "pattern"};
const std::set<std::string, std::less<>> kTypes = {"object",  "array",   "string", "number",
                                                   "integer", "boolean", "null"};

std::string pointer_token(const std::string& key) {
  std::string out;
  for (const char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string at(const std::string& ptr) {
  return ptr.empty() ? "/" : ptr;
}

Error schema_error(const std::string& ptr, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "schema: " + what + " at " + at(ptr));
}

bool matches_type(const Json& v, const std::string& type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_boolean();
  if (type == "string") return v.is_string();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    return v.is_number_integer() ||
           (v.is_number_float() && v.get<double>() == static_cast<double>(v.get<int64_t>()));
  }
  return false;
}

class SchemaCompiler {
 public:
  SchemaCompiler(ValueRules& v, const Json& root) : v_(v), b_(v.builder()), root_(root) {}

  Result<uint32_t> compile(const Json& s, const std::string& ptr) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return v_.any_value();
      return schema_error(ptr, "schema false (matches nothing) is not supported");
    }
    if (!s.is_object()) return schema_error(ptr, "a schema must be an object or a boolean");
    for (const auto& [k, val] : s.items()) {
      if (!kKeywords.contains(k) && !kAnnotations.contains(k)) {
        return schema_error(ptr, "keyword '" + k + "' is not supported");
      }
    }
    for (const char* defs : {"$defs", "definitions"}) {
      if (s.contains(defs) && !s[defs].is_object()) {
        return schema_error(ptr + "/" + defs, std::string("'") + defs + "' must be an object");
      }
    }
    if (s.contains("$ref")) {
      GEMMAD_TRY(only_with(s, ptr, "$ref", {}));
      return ref(s["$ref"], ptr + "/$ref");
    }
    for (const char* any : {"anyOf", "oneOf"}) {
      if (s.contains(any)) {
        GEMMAD_TRY(only_with(s, ptr, any, {}));
        return any_of(s[any], ptr + "/" + any);
      }
    }
    std::vector<std::string> types;
    GEMMAD_ASSIGN_OR_RETURN(types, types_of(s, ptr));
    for (const char* lit : {"enum", "const"}) {
      if (s.contains(lit)) return literal_values(s, lit, types, ptr);
    }
    if (types.empty()) return v_.any_value();
    std::vector<Seq> alts;
    for (const std::string& t : types) {
      uint32_t r = 0;
      GEMMAD_ASSIGN_OR_RETURN(r, of_type(s, t, ptr));
      alts.push_back({b_.ref(r)});
    }
    return alts.size() == 1 ? alts[0][0].arg : b_.rule(alts);
  }

 private:
  // `key` allows no other keyword but annotations and `allowed`.
  Status only_with(const Json& s, const std::string& ptr, const std::string& key,
                   const std::set<std::string, std::less<>>& allowed) {
    for (const auto& [k, val] : s.items()) {
      if (k == key || kAnnotations.contains(k) || allowed.contains(k) || k == "$defs" ||
          k == "definitions") {
        continue;
      }
      return schema_error(ptr, "'" + key + "' together with '" + k + "' is not supported");
    }
    return {};
  }

  Result<std::vector<std::string>> types_of(const Json& s, const std::string& ptr) {
    std::vector<std::string> types;
    if (s.contains("type")) {
      const Json& t = s["type"];
      std::vector<Json> list =
          t.is_array() ? std::vector<Json>(t.begin(), t.end()) : std::vector<Json>{t};
      if (list.empty()) return schema_error(ptr + "/type", "'type' is an empty list");
      for (const Json& one : list) {
        if (!one.is_string() || !kTypes.contains(one.get<std::string>())) {
          return schema_error(ptr + "/type", "'type' " + one.dump() +
                                                 " is not one of object, array, string, "
                                                 "number, integer, boolean, null");
        }
        if (std::find(types.begin(), types.end(), one.get<std::string>()) == types.end())
          types.push_back(one.get<std::string>());
      }
      return types;
    }
    // No type: the keywords say which (a schema with none is any value).
    auto has_any = [&](const std::set<std::string, std::less<>>& keys) {
      return std::any_of(keys.begin(), keys.end(),
                         [&](const std::string& k) { return s.contains(k); });
    };
    if (has_any(kObjectKeys)) types.push_back("object");
    if (has_any(kArrayKeys)) types.push_back("array");
    if (has_any(kStringKeys)) types.push_back("string");
    return types;
  }

  Result<uint32_t> of_type(const Json& s, const std::string& type, const std::string& ptr) {
    if (type == "object") return object(s, ptr);
    if (type == "array") return array(s, ptr);
    if (type == "string") return string(s, ptr);
    if (type == "number") return v_.number();
    if (type == "integer") return v_.integer();
    if (type == "boolean") return v_.boolean();
    return v_.null();
  }

  Result<uint32_t> literal_values(const Json& s, const char* key,
                                  const std::vector<std::string>& types, const std::string& ptr) {
    const std::string p = ptr + "/" + key;
    std::vector<Json> values;
    if (std::string(key) == "const") {
      values.push_back(s[key]);
    } else {
      if (!s[key].is_array() || s[key].empty())
        return schema_error(p, "'enum' must be a non-empty array");
      values.assign(s[key].begin(), s[key].end());
    }
    std::vector<Seq> alts;
    for (size_t i = 0; i < values.size(); ++i) {
      const Json& val = values[i];
      if (!types.empty() && std::none_of(types.begin(), types.end(), [&](const std::string& t) {
            return matches_type(val, t);
          })) {
        return schema_error(
            values.size() > 1 || std::string(key) == "enum" ? p + "/" + std::to_string(i) : p,
            "value " + val.dump() + " does not match 'type'");
      }
      alts.push_back(v_.literal(val));
    }
    return b_.rule(alts);
  }

  Result<int64_t> count(const Json& s, const std::string& key, const std::string& ptr,
                        int64_t dflt) {
    if (!s.contains(key)) return dflt;
    const Json& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxCount) {
      return schema_error(
          ptr + "/" + key,
          "'" + key + "' " + v.dump() + " must be an integer in 0.." + std::to_string(kMaxCount));
    }
    return v.get<int64_t>();
  }

  Result<std::pair<int64_t, std::optional<int64_t>>> bounds(const Json& s, const std::string& ptr,
                                                            const std::string& min_key,
                                                            const std::string& max_key) {
    int64_t lo = 0;
    int64_t hi = -1;
    GEMMAD_ASSIGN_OR_RETURN(lo, count(s, min_key, ptr, 0));
    GEMMAD_ASSIGN_OR_RETURN(hi, count(s, max_key, ptr, -1));
    if (hi >= 0 && lo > hi) {
      return schema_error(ptr, "'" + min_key + "' " + std::to_string(lo) + " is above '" + max_key +
                                   "' " + std::to_string(hi));
    }
    return std::pair<int64_t, std::optional<int64_t>>{
        lo, hi >= 0 ? std::optional<int64_t>(hi) : std::nullopt};
  }

  Result<uint32_t> string(const Json& s, const std::string& ptr) {
    std::pair<int64_t, std::optional<int64_t>> lim;
    GEMMAD_ASSIGN_OR_RETURN(lim, bounds(s, ptr, "minLength", "maxLength"));
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string())
        return schema_error(ptr + "/pattern", "'pattern' must be a string");
      if (s.contains("minLength") || s.contains("maxLength")) {
        return schema_error(ptr,
                            "'pattern' together with 'minLength'/'maxLength' is not "
                            "supported");
      }
      return schema_error(ptr, "keyword 'pattern' is not supported");
    }
    return v_.string(lim.first, lim.second);
  }

  Result<uint32_t> array(const Json& s, const std::string& ptr) {
    std::pair<int64_t, std::optional<int64_t>> lim;
    GEMMAD_ASSIGN_OR_RETURN(lim, bounds(s, ptr, "minItems", "maxItems"));
    uint32_t item = 0;
    if (s.contains("items")) {
      if (s["items"].is_array())
        return schema_error(ptr + "/items", "'items' as an array (tuple) is not supported");
      GEMMAD_ASSIGN_OR_RETURN(item, nested(s["items"], ptr + "/items"));
    } else {
      item = v_.any_value();
    }
    const uint32_t body = v_.repeat({b_.ref(item)}, v_.comma(), lim.first, lim.second);
    return b_.rule({{b_.sym('['), b_.ref(body), b_.sym(']')}});
  }

  Result<uint32_t> object(const Json& s, const std::string& ptr) {
    static const Json kEmpty = Json::object();
    const Json& props = s.contains("properties") ? s["properties"] : kEmpty;
    if (!props.is_object())
      return schema_error(ptr + "/properties", "'properties' must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
      const Json& req = s["required"];
      if (!req.is_array()) return schema_error(ptr + "/required", "'required' must be an array");
      for (size_t i = 0; i < req.size(); ++i) {
        const std::string p = ptr + "/required/" + std::to_string(i);
        if (!req[i].is_string()) return schema_error(p, "'required' entries must be strings");
        if (!props.contains(req[i].get<std::string>())) {
          return schema_error(
              p, "required property '" + req[i].get<std::string>() + "' is not in 'properties'");
        }
        required.insert(req[i].get<std::string>());
      }
    }
    std::optional<uint32_t> extra;  // additionalProperties as a schema
    bool extra_any = props.empty();
    if (s.contains("additionalProperties")) {
      const Json& ap = s["additionalProperties"];
      const std::string p = ptr + "/additionalProperties";
      if (ap.is_boolean()) {
        extra_any = props.empty() && ap.get<bool>();
      } else if (!props.empty()) {
        return schema_error(p,
                            "'additionalProperties' as a schema together with 'properties' "
                            "is not supported");
      } else {
        GEMMAD_ASSIGN_OR_RETURN(extra, nested(ap, p));
      }
    }
    if (props.empty() && (extra_any || extra)) return v_.any_object(extra);
    if (v_.dialect() == Dialect::kGemmaArgs) {
      for (const auto& [name, sub] : props.items()) {
        if (!is_bare_key(name)) {
          return schema_error(ptr + "/properties/" + pointer_token(name),
                              "property name '" + name +
                                  "' cannot be a bare key in tool-call arguments "
                                  "([A-Za-z_][A-Za-z0-9_]*)");
        }
      }
    }
    // S(i, f): the properties from i on; f = one was already written (a comma comes first).
    const size_t n = props.size();
    std::vector<std::array<uint32_t, 2>> rules(n + 1);
    for (size_t i = 0; i <= n; ++i)
      rules[i] = {b_.new_rule(), b_.new_rule()};
    b_.add_alt(rules[n][0], {});
    b_.add_alt(rules[n][1], {});
    size_t i = n;
    std::vector<std::pair<std::string, const Json*>> list;
    for (const auto& [name, sub] : props.items())
      list.emplace_back(name, &sub);
    for (auto it = list.rbegin(); it != list.rend(); ++it) {
      --i;
      const auto& [name, sub] = *it;
      uint32_t value = 0;
      GEMMAD_ASSIGN_OR_RETURN(value, nested(*sub, ptr + "/properties/" + pointer_token(name)));
      for (int f = 0; f < 2; ++f) {
        if (!required.contains(name)) b_.add_alt(rules[i][f], {b_.ref(rules[i + 1][f])});
        Seq s2 = f ? v_.comma() : Seq{};
        GrammarBuilder::append(s2, v_.key(name));
        s2.push_back(b_.ref(value));
        s2.push_back(b_.ref(rules[i + 1][1]));
        b_.add_alt(rules[i][f], s2);
      }
    }
    return b_.rule({{b_.sym('{'), b_.ref(rules[0][0]), b_.sym('}')}});
  }

  static bool is_bare_key(const std::string& k) {
    if (k.empty() || !(std::isalpha(static_cast<unsigned char>(k[0])) || k[0] == '_')) return false;
    return std::all_of(k.begin(), k.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
  }

  // A schema inside brackets: whatever comes first in it is no longer in left position.
  Result<uint32_t> nested(const Json& s, const std::string& ptr) {
    std::vector<std::string> saved;
    saved.swap(left_);
    auto r = compile(s, ptr);
    saved.swap(left_);
    return r;
  }

  Result<uint32_t> any_of(const Json& list, const std::string& ptr) {
    if (!list.is_array() || list.empty()) return schema_error(ptr, "must be a non-empty array");
    std::vector<Seq> alts;
    for (size_t i = 0; i < list.size(); ++i) {
      uint32_t r = 0;
      GEMMAD_ASSIGN_OR_RETURN(r, compile(list[i], ptr + "/" + std::to_string(i)));
      alts.push_back({b_.ref(r)});
    }
    return b_.rule(alts);
  }

  Result<uint32_t> ref(const Json& target, const std::string& ptr) {
    if (!target.is_string()) return schema_error(ptr, "'$ref' must be a string");
    const std::string t = target.get<std::string>();
    if (t.empty() || t[0] != '#') {
      return schema_error(ptr, "'$ref' " + target.dump() +
                                   " is not local (only '#/$defs/...' and '#/definitions/...')");
    }
    if (std::find(left_.begin(), left_.end(), t) != left_.end()) {
      return schema_error(ptr, "'$ref' " + target.dump() +
                                   " refers back to itself before any value starts (left "
                                   "recursion)");
    }
    if (auto it = refs_.find(t); it != refs_.end()) {
      if (!done_.contains(t) && !left_.empty()) {
        // Still being compiled: fine only inside brackets (checked through left_ above).
      }
      return it->second;
    }
    const std::string pointer = t.substr(1);
    if (!pointer.empty() && pointer[0] != '/')
      return schema_error(ptr, "'$ref' " + target.dump() + " is not a JSON pointer");
    Json::json_pointer jp;
    try {
      jp = Json::json_pointer(pointer);
    } catch (const std::exception&) {
      return schema_error(ptr, "'$ref' " + target.dump() + " is not a valid JSON pointer");
    }
    if (!root_.contains(jp)) {
      return schema_error(ptr, "'$ref' " + target.dump() + " does not exist in the schema");
    }
    const uint32_t r = b_.new_rule();
    refs_[t] = r;
    left_.push_back(t);
    auto body = compile(root_.at(jp), pointer);
    left_.pop_back();
    if (!body.ok()) return body.error();
    b_.add_alt(r, {b_.ref(body.value())});
    done_.insert(t);
    return r;
  }

  ValueRules& v_;
  GrammarBuilder& b_;
  const Json& root_;
  std::map<std::string, uint32_t> refs_;
  std::set<std::string> done_;
  std::vector<std::string> left_;  // $refs being compiled with nothing consumed since
};

Result<Json> parse(std::string_view text, const std::string& what) {
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return make_error(ErrorCode::kInvalidArgument, what + ": not valid JSON");
  }
  return doc;
}

}  // namespace

Result<std::shared_ptr<const Grammar>> compile_json_schema(std::string_view schema_json,
                                                           Dialect dialect) {
  Json doc;
  GEMMAD_ASSIGN_OR_RETURN(doc, parse(schema_json, "schema"));
  GrammarBuilder b;
  ValueRules v(b, dialect);
  SchemaCompiler c(v, doc);
  uint32_t root = 0;
  GEMMAD_ASSIGN_OR_RETURN(root, c.compile(doc, ""));
  return std::make_shared<const Grammar>(b.finish(root));
}

std::shared_ptr<const Grammar> any_json_value(Dialect dialect) {
  GrammarBuilder b;
  ValueRules v(b, dialect);
  const uint32_t root = v.any_value();
  return std::make_shared<const Grammar>(b.finish(root));
}

Result<std::shared_ptr<const Grammar>> compile_tool_call(std::span<const ToolSpec> tools,
                                                         std::optional<std::string> only) {
  if (tools.empty()) return make_error(ErrorCode::kInvalidArgument, "tools: none declared");
  GrammarBuilder b;
  ValueRules v(b, Dialect::kGemmaArgs);
  std::vector<Seq> alts;
  bool found_only = false;
  std::set<std::string> names;
  for (size_t i = 0; i < tools.size(); ++i) {
    const ToolSpec& t = tools[i];
    const std::string where = "tools[" + std::to_string(i) + "]";
    const bool name_ok =
        !t.name.empty() && t.name.size() <= 256 &&
        std::all_of(t.name.begin(), t.name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
        });
    if (!name_ok) {
      return make_error(
          ErrorCode::kInvalidArgument,
          where + ".name '" + t.name + "' must be 1..256 characters of [A-Za-z0-9_.-]");
    }
    if (!names.insert(t.name).second) {
      return make_error(ErrorCode::kInvalidArgument,
                        where + ".name '" + t.name + "' is declared twice");
    }
    if (only && *only != t.name) continue;
    found_only = true;
    uint32_t args = 0;
    if (t.parameters_schema_json.empty()) {
      args = v.any_object(std::nullopt);
    } else {
      auto doc = parse(t.parameters_schema_json, where + ".parameters");
      if (!doc.ok()) return doc.error();
      SchemaCompiler c(v, doc.value());
      auto r = c.compile(doc.value(), "");
      if (!r.ok()) return std::move(r).error().with_context(where + " '" + t.name + "'");
      args = r.value();
    }
    Seq s = b.lit("call:" + t.name);
    s.push_back(b.ref(args));
    alts.push_back(s);
  }
  if (only && !found_only) {
    return make_error(ErrorCode::kInvalidArgument,
                      "tool_choice: function '" + *only + "' is not among the declared tools");
  }
  const uint32_t root = b.rule(alts);
  return std::make_shared<const Grammar>(b.finish(root));
}

}  // namespace gemmad::constrain
