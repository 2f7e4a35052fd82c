// A thin RAII layer over the SQLite C API, used only by the control plane's ConfigStore.
//
// Database owns one connection (WAL, busy timeout, synchronous=NORMAL, foreign keys on) and an
// exclusive lock on its file for as long as it lives: a second control plane on the same file
// refuses to start instead of splitting the admin writes and the gateways between two stores.
// Statement owns one prepared statement. Transaction runs `BEGIN IMMEDIATE` and rolls back
// unless Commit() succeeded. Only Database::Open throws (at start-up); everything else reports
// SQLite result codes so store operations can turn them into a StoreError.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace gw {

inline constexpr int kSqliteBusyTimeoutMs = 5000;

class Database {
 public:
  // Opens (creating if needed, mode 0600: the config holds JWT secrets) the database file, takes
  // its lock and applies the connection settings above. A file with group or other permissions
  // is narrowed to 0600, its -wal and -shm files with it. Throws std::runtime_error with one
  // sentence naming the file when that fails: its directory is missing, it cannot be opened
  // for writing (read-only file or file system), another process holds its lock (naming that
  // process), it is not a database.
  // kShared skips the lock, the mode and the checks before SQLite's own open (SQLite creates a
  // missing file with the umask's mode): for tests and tools that look into a database beside
  // its control plane, never for a store.
  enum class Lock { kExclusive, kShared };
  static std::unique_ptr<Database> Open(const std::string& path, Lock lock = Lock::kExclusive);
  ~Database();

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements that return no rows. Returns true on success; otherwise
  // *error (when given) holds SQLite's message.
  bool Exec(std::string_view sql, std::string* error = nullptr);

  std::string ErrorMessage() const;  // the last error on this connection
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Database(sqlite3* db, std::string path, int lock_fd)
      : db_(db), path_(std::move(path)), lock_fd_(lock_fd) {}

  sqlite3* db_;
  std::string path_;
  int lock_fd_;  // the database file, flock()ed exclusively (-1 with kShared); closed after the
                 // connection
};

// One prepared statement. Bind indexes start at 1, column indexes at 0 (as in SQLite).
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();

  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr && bind_ok_; }  // prepared and every bind worked
  const std::string& error() const { return error_; }

  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, int64_t value);
  // Bytes stored as a BLOB (e.g. a serialized message), never as text.
  Statement& BindBlob(int index, std::string_view bytes);

  // SQLITE_ROW, SQLITE_DONE or an error code (then error() holds the message).
  int Step();
  // Steps to completion; true when the statement ran without error.
  bool Run();

  std::string ColumnText(int column) const;
  int64_t ColumnInt(int column) const;
  std::string ColumnBlob(int column) const;
  int ColumnCount() const;

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool bind_ok_ = true;
  std::string error_;
};

// Writes use `BEGIN IMMEDIATE` (takes the write lock up front, waiting up to the busy timeout);
// multi-statement reads use a deferred `BEGIN` so they see one consistent state. Rolls back in
// the destructor unless Commit() succeeded.
class Transaction {
 public:
  enum class Mode { kImmediate, kDeferred };

  explicit Transaction(Database& db, Mode mode = Mode::kImmediate);
  ~Transaction();

  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  bool ok() const { return active_; }  // BEGIN succeeded and neither committed nor rolled back
  const std::string& error() const { return error_; }
  bool Commit();

 private:
  Database& db_;
  bool active_ = false;
  std::string error_;
};

}  // namespace gw
