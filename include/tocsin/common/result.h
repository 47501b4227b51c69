#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace tocsin {

// What went wrong, as a value. The kind tells the caller what to do next: fix the input
// (kInvalid), look elsewhere (kNotFound), retry later (kTransient) or give up (kPermanent).
class Error {
 public:
  enum class Kind { kInvalid, kNotFound, kTransient, kPermanent, kIo, kConflict, kUnauthorized };

  Error(Kind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  static Error Invalid(std::string m) { return {Kind::kInvalid, std::move(m)}; }
  static Error NotFound(std::string m) { return {Kind::kNotFound, std::move(m)}; }
  static Error Transient(std::string m) { return {Kind::kTransient, std::move(m)}; }
  static Error Permanent(std::string m) { return {Kind::kPermanent, std::move(m)}; }
  static Error Io(std::string m) { return {Kind::kIo, std::move(m)}; }
  static Error Conflict(std::string m) { return {Kind::kConflict, std::move(m)}; }
  static Error Unauthorized(std::string m) { return {Kind::kUnauthorized, std::move(m)}; }

  Kind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return kind_ == Kind::kTransient; }

  // "transient: connection refused", for logs and CLI output.
  std::string ToString() const;

  friend bool operator==(const Error&, const Error&) = default;

 private:
  Kind kind_;
  std::string message_;
};

std::string_view KindName(Error::Kind kind);

template <typename T>
using Result = tl::expected<T, Error>;

// Shorthand for returning an error from a function that yields Result<T>.
inline tl::unexpected<Error> Fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

}  // namespace tocsin
