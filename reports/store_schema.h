// store_schema: the results database's schema (docs/SCHEMA.md) and its forward migrations.
//
// The version lives in table schema_version (one row per version applied; the current version
// is MAX(version)); that table's shape never changes. ensure() brings an open database to
// kCurrentVersion: an empty file gets the newest schema, an older version is migrated in place
// inside one write transaction (all steps or none), a newer version is refused.
//
// To change the schema: bump kCurrentVersion, add the new shape to current_sql(), append a
// migration from the previous version to migration_sql(), and describe it in docs/SCHEMA.md.
// Migrations only add (ALTER TABLE ADD/RENAME COLUMN, CREATE); one that must rebuild a table
// has to run with foreign keys off, which cannot be changed inside the transaction.
#pragma once

#include <string>

namespace sb::sqlite {
class Db;
}

namespace sb::store_schema {

inline constexpr int kCurrentVersion = 6;

// Creates, upgrades or validates the schema. Returns the version found (0 for a new file).
// Throws sb::Error (one line naming the path) for a newer version, a database that is not a
// sparkbench results database, or any SQLite failure.
int ensure(sqlite::Db& db);

// The SQL that creates the newest schema on an empty database.
const char* current_sql();
// The SQL that upgrades version `from` to from + 1 (1 <= from < kCurrentVersion).
const char* migration_sql(int from);

}  // namespace sb::store_schema
