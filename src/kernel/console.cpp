#include "fredsim/kernel/console.hpp"

#include <fmt/format.h>

#include "fredsim/machine/machine.hpp"

namespace fredsim::kernel {

namespace {
// The console keeps this many lines; later ones are counted, not kept (Linux's
// log buffer is bounded too), so a long storm cannot grow it without end.
constexpr std::size_t kConsoleLines = 65536;
// printk_ratelimited: this many lines per interval per site.
constexpr unsigned kRateBurst = 10;
constexpr std::uint64_t kRateIntervalSeconds = 5;
}  // namespace

Console::Console(machine::Machine& machine, unsigned rate_sites)
    : machine_(machine), rate_(rate_sites) {}

void Console::printk(CpuId cpu, std::string text) {
  if (lines_.size() + 1 >= kConsoleLines) {
    // The last line kept says that (and how much) the console dropped.
    if (lines_.size() + 1 == kConsoleLines) {
      lines_.push_back(ConsoleLine{machine_.now(), kNoCpu, "printk: console full"});
    }
    ++dropped_;
    lines_.back().text = fmt::format("printk: console full, {} later lines dropped", dropped_);
    return;
  }
  lines_.push_back(ConsoleLine{machine_.now(), cpu, std::move(text)});
}

void Console::warn_once(unsigned site, std::string text) {
  if (warned_ & (1u << site)) return;
  warned_ |= 1u << site;
  printk(kNoCpu, "WARNING: " + std::move(text));
}

bool Console::ratelimit(unsigned site) {
  RateLimit& r = rate_[site];
  const Cycle interval =
      kRateIntervalSeconds * machine_.timing().get(TimingParam::core_mhz) * 1'000'000;
  const Cycle now = machine_.now();
  if (!r.started || now - r.begin >= interval) {
    r.started = true;
    r.begin = now;
    r.printed = 0;
  }
  if (r.printed >= kRateBurst) return false;
  ++r.printed;
  return true;
}

void Console::record_panic(CpuId cpu, std::string message) {
  if (panic_) return;  // the panicking CPU's second panic returns
  panic_ = PanicRecord{machine_.now(), cpu, message};
  printk(cpu, "Kernel panic - not syncing: " + message);
}

}  // namespace fredsim::kernel
