// Checks SessionStore::open makes before it serves a database: the file is sound (sqlite's
// integrity checks) and its schema is exactly what gemmad's migrations create (not another
// program's database, not a hand-edited one).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/result.h"
#include "store/migrations.h"
#include "store/sqlite_db.h"

namespace gemmad::store {

// Files up to this size get the full PRAGMA integrity_check (it also checks indexes against
// their tables); larger ones the cheaper quick_check, so start-up stays fast.
inline constexpr std::uint64_t kFullIntegrityCheckBytes = 64ull << 20;

// kIo "database 'PATH' is damaged: <sqlite's first finding> (PRAGMA quick_check)" unless the
// check reports "ok".
Status check_integrity(Database& db, std::uint64_t file_bytes);

// The tables, indexes, triggers and views of `db` must be those that migrations 1..version of
// `migrations` create, with the same SQL. kIo naming the file and the first object that is
// missing, extra or different ("not a gemmad session store").
Status verify_schema(Database& db, std::span<const Migration> migrations, int version);

}  // namespace gemmad::store
