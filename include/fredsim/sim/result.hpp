#pragma once
// A value or an error message, for bad input from outside (docs/architecture.md "Conventions").
// C++20 has no std::expected; this is the small subset fredsim needs.
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace fredsim {

/// An error for input from outside: a readable message naming the place.
struct Error {
  std::string message;
};

/// What Result::value() (and *, ->) throws when the Result holds an error: its
/// what() is the error's message. Result::error() on a value throws it too.
class BadResultAccess : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  /// The value; throws BadResultAccess with the error's message on an error.
  T& value() & {
    check_value();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check_value();
    return std::get<0>(v_);
  }
  T&& value() && {
    check_value();
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  /// The error; throws BadResultAccess when the Result holds a value.
  const Error& error() const {
    if (ok()) throw BadResultAccess("Result::error() called on a value");
    return std::get<1>(v_);
  }

 private:
  void check_value() const {
    if (!ok()) throw BadResultAccess(std::get<1>(v_).message);
  }
  std::variant<T, Error> v_;
};

/// Success or an error, where there is no value to return.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  static Status success() { return {}; }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  /// The error; throws BadResultAccess on success.
  const Error& error() const {
    if (ok_) throw BadResultAccess("Status::error() called on success");
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace fredsim
