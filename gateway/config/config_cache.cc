#include "gateway/config/config_cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "common/wire_limits.h"

namespace gw {
namespace {

std::string ErrnoText(int error) { return std::strerror(error); }

constexpr std::string_view kMagic = "GWCACHE2";
constexpr size_t kHeaderSize = 8 + 8 + 8 + 32;

std::string Sha256(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

void AppendUint64(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t ReadUint64(std::string_view bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(bytes[i]);
  return value;
}

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

// Reads to the end of the file, or until more than `max` bytes were read.
bool ReadAll(int fd, size_t max, std::string* bytes, int* error) {
  char buffer[64 * 1024];
  while (bytes->size() <= max) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = errno;
      return false;
    }
    bytes->append(buffer, static_cast<size_t>(n));
  }
  return true;
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
  // A file larger than the largest config is not read whole (a --cache pointed at a big file).
  const size_t max_size = kHeaderSize + kMaxConfigBytes;
  if (!ReadAll(file.get(), max_size, &bytes, &read_error)) {
    *error = "cannot read cache file " + path + ": " + ErrnoText(read_error);
    return CacheLoad::kCorrupt;
  }
  const auto corrupt = [&](const std::string& why) {
    *error = "cache file " + path + " " + why;
    return CacheLoad::kCorrupt;
  };
  if (bytes.empty()) return corrupt("is empty");
  if (bytes.size() > max_size) return corrupt("is larger than any config cache");
  if (bytes.size() < kHeaderSize || !std::string_view(bytes).starts_with(kMagic))
    return corrupt(bytes.size() >= kMagic.size() && !std::string_view(bytes).starts_with(kMagic)
                       ? "is not a config cache of this gateway (written by an older one?)"
                       : "is cut short (" + std::to_string(bytes.size()) + " bytes)");
  const std::string_view header(bytes.data(), kHeaderSize);
  const uint64_t version = ReadUint64(header.substr(8, 8));
  const uint64_t length = ReadUint64(header.substr(16, 8));
  const uint64_t actual = bytes.size() - kHeaderSize;
  if (length != actual)
    return corrupt((actual < length ? "is cut short: " : "has data after its end: ") +
                   std::to_string(actual) + " payload bytes, " + std::to_string(length) +
                   " expected");
  const std::string_view payload = std::string_view(bytes).substr(kHeaderSize);
  if (Sha256(payload) != header.substr(24, 32))
    return corrupt("is damaged (its checksum does not match)");
  config->Clear();
  if (!config->ParseFromArray(payload.data(), static_cast<int>(payload.size())))
    return corrupt("does not hold a config (" + std::to_string(payload.size()) +
                   " bytes that do not parse)");
  if (config->version() != version)
    return corrupt("says version " + std::to_string(version) + " but holds version " +
                   std::to_string(config->version()));
  return CacheLoad::kLoaded;
}

bool StoreConfigCache(const std::string& path, const gateway::v1::Config& config,
                      std::string* error) {
  std::string payload;
  if (!config.SerializeToString(&payload)) {
    *error = "cannot serialize config version " + std::to_string(config.version());
    return false;
  }
  std::string bytes(kMagic);
  bytes.reserve(kHeaderSize + payload.size());
  AppendUint64(bytes, config.version());
  AppendUint64(bytes, payload.size());
  bytes += Sha256(payload);
  bytes += payload;

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
  // mkostemp made it 0600; said again, as the file's mode is a promise (it holds JWT secrets).
  if (::fchmod(file.get(), 0600) != 0) return fail("cannot chmod " + temp, errno);
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
