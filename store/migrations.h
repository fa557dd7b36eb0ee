// The session store's schema as an ordered list of migrations, applied by PRAGMA user_version.
// Version N of a database means migrations 1..N have run; a released migration is never
// edited, only followed by a new one.
#pragma once

#include <span>
#include <string_view>

#include "common/result.h"
#include "store/sqlite_db.h"

namespace gemmad::store {

struct Migration {
  int version = 0;        // the user_version after this step: 1, 2, 3, ... in order
  std::string_view name;  // for error messages: "migration 2 (add message status): ..."
  std::string_view sql;   // one or more statements, separated by ';'
};

// gemmad's schema, oldest first.
std::span<const Migration> schema_migrations();
// The version a database has after schema_migrations(): the last entry's version.
int latest_schema_version();

// The database's PRAGMA user_version (0 for a new, empty file).
Result<int> schema_version(Database& db);

// Brings `db` up to the last version of `migrations`. Each step runs in its own IMMEDIATE
// transaction together with its user_version bump, so a failing step leaves the database at
// the previous version and a second process migrating at the same time waits, re-reads the
// version and skips what is done. Errors: kUnsupported if the database is newer than the last
// known version (an older gemmad must not write a schema it does not understand); kInternal if
// `migrations` is not numbered 1, 2, 3, ...; the failing step's sqlite error otherwise.
Status migrate(Database& db, std::span<const Migration> migrations);

}  // namespace gemmad::store
