// Fuzzes sequences of admin commands against a real ConfigStore (SQLite, in a temp dir) and
// checks, after every command, that what the control plane would publish is a config every
// gateway accepts: see fuzz/admin_sequence.h for the decoding and the properties. A broken
// property prints the last commands and aborts (libFuzzer saves the input).
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "fuzz/admin_sequence.h"

namespace {

// One directory per process under $TMPDIR (scripts/fuzz.sh points it into its work dir, which
// it removes), emptied after every input: libFuzzer leaves by _Exit, so nothing runs at exit.
std::string MakeWorkDir() {
  std::string path =
      (std::filesystem::temp_directory_path() / "admin-sequence-fuzz-XXXXXX").string();
  if (::mkdtemp(path.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = MakeWorkDir();
  const std::string db = dir + "/config.db";
  const gw::fuzz::SequenceResult result = gw::fuzz::RunAdminSequence(data, size, db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  if (!result.failure.empty()) {
    std::fprintf(stderr, "fuzz invariant failed: %s\n", result.failure.c_str());
    std::abort();
  }
  return 0;
}
