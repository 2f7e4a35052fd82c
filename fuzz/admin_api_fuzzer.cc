// Fuzzes the admin API with arbitrary request messages: the input is a serialized
// gateway.fuzz.AdminCalls (fuzz/admin_calls.proto), a sequence of AdminService calls whose
// requests may hold anything a client can send. They run on a fresh SQLite ConfigStore in a temp
// dir, as controlplane/admin_service.cc runs them, with the properties of fuzz/admin_api.h
// checked after every call. A broken property prints the last calls and aborts (libFuzzer saves
// the input). Inputs that do not parse (as gRPC would refuse them: bad wire format, a string
// that is not UTF-8) are rejected and kept out of the corpus.
#include <google/protobuf/stubs/logging.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "fuzz/admin_api.h"

namespace {

// One directory per process under $TMPDIR (scripts/fuzz.sh points it into its work dir, which
// it removes), emptied after every input: libFuzzer leaves by _Exit, so nothing runs at exit.
std::string MakeWorkDir() {
  std::string path = (std::filesystem::temp_directory_path() / "admin-api-fuzz-XXXXXX").string();
  if (::mkdtemp(path.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Parsing logs every string that is not UTF-8; the input is rejected either way.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gateway::fuzz::AdminCalls calls;
  if (!calls.ParseFromArray(data, static_cast<int>(size))) return -1;
  static const std::string dir = MakeWorkDir();
  const std::string db = dir + "/config.db";
  const std::string failure = gw::fuzz::RunAdminCalls(calls, db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  if (!failure.empty()) {
    std::fprintf(stderr, "fuzz invariant failed: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
