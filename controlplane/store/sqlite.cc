#include "controlplane/store/sqlite.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/log.h"

namespace gw {

namespace {

// The pid that holds a flock() on the file with inode `inode`, from /proc/locks; 0 if unknown.
long FlockHolder(ino_t inode) {
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    // "1: FLOCK  ADVISORY  WRITE 1234 08:02:131075 0 EOF"
    std::istringstream fields(line);
    std::string id, type, advisory, mode, device;
    long pid = 0;
    if (!(fields >> id >> type >> advisory >> mode >> pid >> device) || type != "FLOCK") continue;
    const size_t colon = device.rfind(':');
    if (colon != std::string::npos && device.substr(colon + 1) == std::to_string(inode)) return pid;
  }
  return 0;
}

// Opens the database file for writing (created 0600), narrows a wider mode, and takes the
// exclusive lock. Returns the descriptor; throws with one sentence.
int OpenAndLock(const std::string& path) {
  const auto fail = [&path](const std::string& why) -> int {
    throw std::runtime_error("cannot open database " + path + ": " + why);
  };
  std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (directory.empty()) directory = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(directory, ec))
    fail("directory " + directory.string() + " does not exist");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    if (error == EACCES || error == EROFS || error == EPERM)
      fail(std::string(std::strerror(error)) +
           ": the control plane must be able to write it (a read-only file or file system?)");
    fail(std::strerror(error));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    fail("not a regular file");
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error != EWOULDBLOCK) fail(std::string("cannot lock it: ") + std::strerror(error));
    const long holder = FlockHolder(info.st_ino);
    throw std::runtime_error("database " + path + " is in use by another control plane" +
                             (holder > 0 ? " (pid " + std::to_string(holder) + ")" : "") +
                             "; stop it, or give this one its own --db");
  }
  // The config holds JWT secrets and API key digests: owner only, like the -wal and -shm files
  // SQLite creates with the database's mode.
  if ((info.st_mode & 077) != 0) {
    if (::fchmod(fd, 0600) != 0)
      LogWarn("database " + path +
              " is readable by others and cannot be made 0600: " + std::strerror(errno));
    for (const char* suffix : {"-wal", "-shm"}) ::chmod((path + suffix).c_str(), 0600);
  }
  return fd;
}

}  // namespace

std::unique_ptr<Database> Database::Open(const std::string& path, Lock lock) {
  // kShared opens no descriptor of its own: closing one would drop the POSIX locks SQLite
  // holds on the file through the store's connection in this process.
  const int lock_fd = lock == Lock::kExclusive ? OpenAndLock(path) : -1;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    if (lock_fd >= 0) ::close(lock_fd);
    throw std::runtime_error("cannot open database " + path + ": " + message);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kSqliteBusyTimeoutMs);
  std::unique_ptr<Database> database(new Database(db, path, lock_fd));
  if (sqlite3_db_readonly(db, "main") == 1)
    throw std::runtime_error("database " + path +
                             " opened read-only; the control plane must be able to write it");
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

Database::~Database() {
  sqlite3_close_v2(db_);
  // After the connection: closing a descriptor of the file drops the POSIX locks SQLite holds
  // through its own.
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

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
