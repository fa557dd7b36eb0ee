// Errors as values for engine/, store/ and ipc/: Error{code, message}, Result<T>, and the
// GEMMAD_TRY / GEMMAD_ASSIGN_OR_RETURN macros. Exceptions are not used for expected failures
// (bad files, bad frames, bad config); assert only on programmer errors.
#pragma once

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace gemmad {

// A closed set: the daemon maps each to an ipc ErrorCode and gemmactl to an exit code.
enum class ErrorCode {
  kInvalidArgument,    // caller passed something malformed (usage, config, request field)
  kBadModelFile,       // a GGUF file is truncated, hostile or not a Gemma 4 model
  kIo,                 // the OS refused (open, mmap, read, write)
  kNotFound,           // named thing does not exist (key, tensor, session)
  kOutOfRange,         // a value is past a limit (context length, frame size, count)
  kUnsupported,        // valid input this build cannot handle (tensor type, feature)
  kResourceExhausted,  // a bounded queue or table is full ("busy")
  kPermissionDenied,   // identity may not do this
  kCancelled,          // the request was cancelled
  kInternal,           // a bug; message says where
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // Prefix the message with context, e.g. the file name: "model.gguf: tensor 'x': ...".
  Error&& with_context(const std::string& context) && {
    message = context + ": " + message;
    return std::move(*this);
  }
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace gemmad

#define GEMMAD_CONCAT_INNER_(a, b) a##b
#define GEMMAD_CONCAT_(a, b) GEMMAD_CONCAT_INNER_(a, b)

// Return the error of a Result/Status expression from the enclosing function.
#define GEMMAD_TRY(expr)                                              \
  do {                                                                \
    auto&& gemmad_try_r_ = (expr);                                    \
    if (!gemmad_try_r_.ok()) return std::move(gemmad_try_r_).error(); \
  } while (0)

// `GEMMAD_ASSIGN_OR_RETURN(auto x, f());` declares x from f()'s value or returns its error.
#define GEMMAD_ASSIGN_OR_RETURN(lhs, expr) \
  GEMMAD_ASSIGN_OR_RETURN_IMPL_(GEMMAD_CONCAT_(gemmad_aor_, __LINE__), lhs, expr)
#define GEMMAD_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).error();       \
  lhs = std::move(tmp).value()
