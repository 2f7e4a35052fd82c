#include "controlplane/store/sqlite.h"

#include <sqlite3.h>

#include <stdexcept>

namespace gw {

std::unique_ptr<Database> Database::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    throw std::runtime_error("cannot open database " + path + ": " + message);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kSqliteBusyTimeoutMs);
  std::unique_ptr<Database> database(new Database(db, path));
  // journal_mode answers with a row; the file is first read here, so a file that is not a
  // database is reported now rather than on the first write.
  Statement wal(*database, "PRAGMA journal_mode=WAL");
  if (!wal.ok() || wal.Step() != SQLITE_ROW)
    throw std::runtime_error("cannot open database " + path + ": " + database->ErrorMessage());
  if (wal.ColumnText(0) != "wal")
    throw std::runtime_error("cannot open database " + path + ": WAL journal mode unavailable");
  std::string error;
  if (!database->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", &error))
    throw std::runtime_error("cannot open database " + path + ": " + error);
  return database;
}

Database::~Database() { sqlite3_close_v2(db_); }

bool Database::Exec(std::string_view sql, std::string* error) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return true;
  if (error) *error = message ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return false;
}

std::string Database::ErrorMessage() const { return sqlite3_errmsg(db_); }

Statement::Statement(Database& db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
      SQLITE_OK) {
    error_ = db.ErrorMessage();
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int index, std::string_view text) {
  if (stmt_ && sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                 SQLITE_TRANSIENT) != SQLITE_OK) {
    bind_ok_ = false;
    error_ = db_.ErrorMessage();
  }
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  // A zero-length blob still needs a non-null pointer, or SQLite binds NULL.
  static constexpr char kEmpty = 0;
  if (stmt_ && sqlite3_bind_blob(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(),
                                 static_cast<int>(bytes.size()), SQLITE_TRANSIENT) != SQLITE_OK) {
    bind_ok_ = false;
    error_ = db_.ErrorMessage();
  }
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  if (stmt_ && sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) {
    bind_ok_ = false;
    error_ = db_.ErrorMessage();
  }
  return *this;
}

int Statement::Step() {
  if (!ok()) return SQLITE_MISUSE;
  const int rc = sqlite3_step(stmt_);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) error_ = db_.ErrorMessage();
  return rc;
}

bool Statement::Run() {
  int rc;
  while ((rc = Step()) == SQLITE_ROW) {
  }
  return rc == SQLITE_DONE;
}

std::string Statement::ColumnText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (!text) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Statement::ColumnBlob(int column) const {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  if (!bytes) return {};
  return std::string(bytes, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

int Statement::ColumnCount() const { return stmt_ ? sqlite3_column_count(stmt_) : 0; }

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

Transaction::Transaction(Database& db, Mode mode) : db_(db) {
  active_ = db_.Exec(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN", &error_);
}

Transaction::~Transaction() {
  if (active_) db_.Exec("ROLLBACK");
}

bool Transaction::Commit() {
  if (!active_) return false;
  if (!db_.Exec("COMMIT", &error_)) return false;  // still active: the destructor rolls back
  active_ = false;
  return true;
}

}  // namespace gw
