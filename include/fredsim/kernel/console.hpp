#pragma once
// What the kernel model prints and how it stops: console lines, the panic
// record, and the console that keeps them (its line cap, printk's rate limits
// and the warn-once sites).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fredsim/sim/cycle.hpp"

namespace fredsim::machine {
class Machine;
}  // namespace fredsim::machine

namespace fredsim::kernel {

/// A line of the kernel's console log.
struct ConsoleLine {
  Cycle cycle = 0;
  CpuId cpu = kNoCpu;
  std::string text;
};

/// A panic: the machine stops with this record.
struct PanicRecord {
  Cycle cycle = 0;
  CpuId cpu = kNoCpu;
  std::string message;
};

/// The kernel's log. Lines are stamped with the machine's current cycle.
class Console {
 public:
  /// `rate_sites` rate-limited call sites are numbered 0..rate_sites-1; up to
  /// 32 warn-once sites are numbered 0..31.
  Console(machine::Machine& machine, unsigned rate_sites);

  /// Appends a line (rate limiting is the caller's). The console keeps
  /// 65,536 lines; the last one then counts the lines dropped after it.
  void printk(CpuId cpu, std::string text);
  const std::vector<ConsoleLine>& lines() const { return lines_; }

  /// printk_ratelimited's check for one call site: true for at most 10 lines
  /// in any 5 simulated seconds.
  bool ratelimit(unsigned site);
  /// Prints "WARNING: <text>" the first time `site` warns, nothing after.
  void warn_once(unsigned site, std::string text);

  /// Records a panic and prints it (the kernel traces it); a later panic is ignored.
  void record_panic(CpuId cpu, std::string message);
  bool panicked() const { return panic_.has_value(); }
  const std::optional<PanicRecord>& panic() const { return panic_; }

 private:
  struct RateLimit {
    Cycle begin = 0;
    unsigned printed = 0;
    bool started = false;
  };

  machine::Machine& machine_;
  std::vector<ConsoleLine> lines_;
  std::uint64_t dropped_ = 0;
  std::optional<PanicRecord> panic_;
  std::uint32_t warned_ = 0;  // one bit per warn-once site
  std::vector<RateLimit> rate_;
};

}  // namespace fredsim::kernel
