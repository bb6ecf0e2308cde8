#pragma once
// The common part of every typed register value: one raw word and typed access
// to its fields. A register class derives from RegisterValue<Itself, Word> and
// adds only what is its own: the field layout, the accessor names, factories and
// validity checks.
#include <cstdint>

#include "fredsim/sim/bit_field.hpp"

namespace fredsim {

/// A register value held as one `Raw` word (std::uint32_t or std::uint64_t).
/// `Derived` is the register class itself; setters return it so that calls chain.
template <class Derived, class Raw>
class RegisterValue {
 public:
  using raw_type = Raw;

  constexpr RegisterValue() = default;
  constexpr explicit RegisterValue(Raw raw) : raw_(raw) {}
  /// From a 64-bit word as VMREAD or RDMSR return it; a 32-bit register keeps the
  /// low half.
  static constexpr Derived decode(std::uint64_t raw) { return Derived(static_cast<Raw>(raw)); }

  constexpr Raw raw() const { return raw_; }
  /// The word to write back (VMWRITE, WRMSR, a frame slot): the raw value.
  constexpr Raw encode() const { return raw_; }

  /// Field `f`, converted to `T` (an integer, bool or enumeration type).
  template <class T = Raw>
  constexpr T get(BitField f) const {
    return static_cast<T>(f.get(raw_));
  }
  /// Replaces field `f` with `v`, cut to the field's width.
  template <class T>
  constexpr Derived& set(BitField f, T v) {
    raw_ = static_cast<Raw>(f.set(raw_, static_cast<std::uint64_t>(v)));
    return static_cast<Derived&>(*this);
  }
  /// A copy with field `f` replaced by `v`.
  template <class T>
  constexpr Derived with(BitField f, T v) const {
    Derived copy = static_cast<const Derived&>(*this);
    return copy.set(f, v);
  }

  friend constexpr bool operator==(const RegisterValue&, const RegisterValue&) = default;

 private:
  Raw raw_ = 0;
};

}  // namespace fredsim
