// Integrity and schema checks at open (see store_checks.h).
#include "store/store_checks.h"

#include <map>
#include <utility>

namespace gemmad::store {
namespace {

// name -> "type|table|sql" of every schema object sqlite did not create itself.
Result<std::map<std::string, std::string>> schema_objects(Database& db) {
  GEMMAD_ASSIGN_OR_RETURN(Statement query,
                          db.prepare("SELECT name, type, tbl_name, sql FROM sqlite_schema "
                                     "WHERE name NOT LIKE 'sqlite_%' ORDER BY name"));
  std::map<std::string, std::string> out;
  while (true) {
    GEMMAD_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) break;
    out[query.column_text(0)] =
        query.column_text(1) + "|" + query.column_text(2) + "|" + query.column_text(3);
  }
  return out;
}

std::string kind_of(const std::string& description) {
  return description.substr(0, description.find('|'));
}

}  // namespace

Status check_integrity(Database& db, std::uint64_t file_bytes) {
  const bool full = file_bytes <= kFullIntegrityCheckBytes;
  const char* pragma = full ? "PRAGMA integrity_check" : "PRAGMA quick_check";
  auto found = db.query_text(pragma);
  if (!found.ok()) {
    return make_error(ErrorCode::kIo, "database '" + db.path() + "' is damaged: " +
                                          found.error().message + " (" + pragma + ")");
  }
  if (*found != "ok") {
    // sqlite's first finding may span lines ("*** in database main ***\nOn tree page 2...").
    std::string finding = *found;
    for (char& c : finding) {
      if (c == '\n') c = ' ';
    }
    return make_error(ErrorCode::kIo, "database '" + db.path() + "' is damaged: " + finding + " (" +
                                          pragma + "); move it away to start with an empty store");
  }
  return {};
}

Status verify_schema(Database& db, std::span<const Migration> migrations, int version) {
  const std::string where = "database '" + db.path() + "'";
  // What the migrations create, built in a scratch in-memory database.
  GEMMAD_ASSIGN_OR_RETURN(std::unique_ptr<Database> scratch, Database::open(":memory:"));
  for (const Migration& step : migrations) {
    if (step.version > version) break;
    GEMMAD_TRY(scratch->exec_script(step.sql));
  }
  GEMMAD_ASSIGN_OR_RETURN(const auto expected, schema_objects(*scratch));
  GEMMAD_ASSIGN_OR_RETURN(const auto actual, schema_objects(db));
  const std::string foreign = " (not a gemmad session store at schema version " +
                              std::to_string(version) + "; use another state directory)";
  for (const auto& [name, description] : actual) {
    auto it = expected.find(name);
    if (it == expected.end()) {
      return make_error(ErrorCode::kIo,
                        where + " has " + kind_of(description) + " '" + name + "'" + foreign);
    }
    if (it->second != description) {
      return make_error(ErrorCode::kIo, where + ": " + kind_of(description) + " '" + name +
                                            "' differs from gemmad's migrations" + foreign);
    }
  }
  for (const auto& [name, description] : expected) {
    if (!actual.count(name)) {
      return make_error(ErrorCode::kIo,
                        where + " lacks " + kind_of(description) + " '" + name + "'" + foreign);
    }
  }
  return {};
}

}  // namespace gemmad::store
