// Errors as values: a Result holds either a T (or, as Result<void>, Ok) or an Error with a reason
// and a hint.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace cwtrace {

struct Error {
    std::string message;  // what went wrong, one line
    std::string hint;     // what the user can do about it, may be empty
};

template <typename T>
class Result {
  public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    T* operator->() { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

// What a Result<void> holds when all went well.
struct Ok {};

// Success with nothing to hand back, or an Error.
template <>
class Result<void> {
  public:
    Result(Ok) {}
    Result(Error error) : error_(std::move(error)) {}

    bool ok() const { return !error_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return *error_; }

  private:
    std::optional<Error> error_;
};

}  // namespace cwtrace
