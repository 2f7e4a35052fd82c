#include "gateway/config/config_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace gw {
namespace {

std::string ErrnoText(int error) { return std::strerror(error); }

// Closes a file descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the error close() found (a failed close may mean lost data).
  int Close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

bool WriteAll(int fd, const std::string& bytes, int* error) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = errno;
      return false;
    }
    written += static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, std::string* bytes, int* error) {
  char buffer[64 * 1024];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = errno;
      return false;
    }
    bytes->append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

CacheLoad LoadConfigCache(const std::string& path, gateway::v1::Config* config,
                          std::string* error) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) {
    if (errno == ENOENT) return CacheLoad::kMissing;
    *error = "cannot open cache file " + path + ": " + ErrnoText(errno);
    return CacheLoad::kCorrupt;
  }
  std::string bytes;
  int read_error = 0;
  if (!ReadAll(file.get(), &bytes, &read_error)) {
    *error = "cannot read cache file " + path + ": " + ErrnoText(read_error);
    return CacheLoad::kCorrupt;
  }
  config->Clear();
  if (!config->ParseFromString(bytes)) {
    *error = "cache file " + path + " is not a valid config (" + std::to_string(bytes.size()) +
             " bytes that do not parse)";
    return CacheLoad::kCorrupt;
  }
  return CacheLoad::kLoaded;
}

bool StoreConfigCache(const std::string& path, const gateway::v1::Config& config,
                      std::string* error) {
  std::string bytes;
  if (!config.SerializeToString(&bytes)) {
    *error = "cannot serialize config version " + std::to_string(config.version());
    return false;
  }

  const std::filesystem::path target(path);
  std::filesystem::path directory = target.parent_path();
  if (directory.empty()) directory = ".";

  // The temp file lives beside the cache file so that rename() stays on one file system.
  std::string temp = path + ".tmp.XXXXXX";
  FileDescriptor file(::mkostemp(temp.data(), O_CLOEXEC));
  if (file.get() < 0) {
    *error = "cannot create a temp file beside " + path + ": " + ErrnoText(errno);
    return false;
  }
  auto fail = [&](const std::string& what, int errnum) {
    ::unlink(temp.c_str());
    *error = what + ": " + ErrnoText(errnum);
    return false;
  };

  int io_error = 0;
  if (!WriteAll(file.get(), bytes, &io_error)) return fail("cannot write " + temp, io_error);
  if (::fchmod(file.get(), 0644) != 0) return fail("cannot chmod " + temp, errno);
  if (::fsync(file.get()) != 0) return fail("cannot fsync " + temp, errno);
  if (const int close_error = file.Close(); close_error != 0)
    return fail("cannot close " + temp, close_error);
  if (::rename(temp.c_str(), path.c_str()) != 0)
    return fail("cannot rename " + temp + " to " + path, errno);

  // Make the rename itself durable.
  FileDescriptor dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) {
    *error = "cache file " + path +
             " written, but its directory could not be fsynced: " + ErrnoText(errno);
    return false;
  }
  return true;
}

}  // namespace gw
