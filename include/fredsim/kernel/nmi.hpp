#pragma once
// The vocabulary of Linux's NMI code, with the NMI-source series applied
// (docs/linux.md "Data").
#include <cstdint>
#include <string_view>

namespace fredsim::kernel {

/// Handler types: one handler list each.
enum class NmiType : std::uint8_t { local, unknown, serr, io_check };
inline constexpr std::size_t kNmiTypeCount = 4;
std::string_view nmi_type_name(NmiType t);
bool parse_nmi_type(std::string_view text, NmiType& out);

/// Handler return values; a count > 1 means several events were handled.
inline constexpr int NMI_DONE = 0;
inline constexpr int NMI_HANDLED = 1;

/// Registration flags.
inline constexpr unsigned NMI_FLAG_FIRST = 1u << 0;

/// NMI-source vectors Linux assigns (docs/linux.md "Data").
namespace nmis {
inline constexpr unsigned VECTOR_NONE = 0;
inline constexpr unsigned VECTOR_TEST = 1;
inline constexpr unsigned VECTOR_EXTERNAL = 2;  // reserved, never registered
inline constexpr unsigned VECTOR_SMP_STOP = 3;
inline constexpr unsigned VECTOR_BT = 4;
inline constexpr unsigned VECTOR_KGDB = 5;
inline constexpr unsigned VECTOR_MCE = 6;
inline constexpr unsigned VECTOR_PMI = 7;
inline constexpr unsigned VECTOR_COUNT = 8;
inline constexpr unsigned VECTOR_MAX = 16;
}  // namespace nmis

/// Which revision of the NMI-source series the dispatch follows.
enum class Revision : std::uint8_t { v7, v5 };
std::string_view revision_name(Revision r);

/// What a handler sees of the interrupted context.
struct PtRegs {
  std::uint64_t ip = 0;
  std::uint64_t sp = 0;
  std::uint64_t flags = 0;
  std::uint16_t cs = 0;
  std::uint16_t ss = 0;
  std::uint8_t cpl = 0;
  bool fred = false;             // entered through FRED (event data valid)
  std::uint64_t event_data = 0;  // FRED event data: the NMI-source bitmap
};

/// Per-CPU counters, as default_do_nmi keeps them.
struct NmiStats {
  std::uint64_t normal = 0;
  std::uint64_t unknown = 0;
  std::uint64_t external = 0;
  std::uint64_t swallow = 0;
};

}  // namespace fredsim::kernel
