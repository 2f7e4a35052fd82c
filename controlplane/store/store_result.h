// StoreError / StoreResult<T>: how ConfigStore operations answer. A refusal carries a code the
// admin service maps to a grpc::Status and one sentence a person can act on.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace gw {

enum class StoreCode {
  kInvalidArgument,     // the input breaks a validation rule
  kAlreadyExists,       // create of a name or (path, match) that exists
  kNotFound,            // update, get or delete of something that does not exist
  kFailedPrecondition,  // e.g. deleting a service that routes use; ambiguous route key
  kResourceExhausted,   // the config would grow past what gateways accept
  kUnavailable,         // the database cannot be reached; retry later
  kConflict,            // a write transaction lost a race with another replica: run it again
  kInternal,            // the database failed
};

struct StoreError {
  StoreCode code;
  std::string message;
};

template <typename T>
class StoreResult {
 public:
  StoreResult(T value) : state_(std::move(value)) {}           // NOLINT: implicit on purpose
  StoreResult(StoreError error) : state_(std::move(error)) {}  // NOLINT: implicit on purpose

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() { return std::get<0>(state_); }
  const T& value() const { return std::get<0>(state_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const StoreError& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, StoreError> state_;
};

}  // namespace gw
