// The readable outputs of `fredsim run` and `fredsim compare`.
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fredsim/scenario/report.hpp"

namespace fredsim::scenario {
namespace {

bool active(const CpuResult& c) {
  return c.nmi_received || c.nmi_delivered || c.dispatch_cycles || c.stats.normal ||
         c.stats.unknown || c.stats.external || c.stats.swallow || c.lost;
}

std::uint64_t total(const ScenarioResult& r, std::uint64_t CpuResult::*field) {
  std::uint64_t sum = 0;
  for (const auto& c : r.cpus)
    sum += c.*field;
  return sum;
}

std::uint64_t total_stat(const ScenarioResult& r, std::uint64_t kernel::NmiStats::*field) {
  std::uint64_t sum = 0;
  for (const auto& c : r.cpus)
    sum += c.stats.*field;
  return sum;
}

/// The last column is `lost` at the end of a run, `pending` (wider) mid-run.
void cpu_row(std::ostream& out, std::string_view id, const CpuResult& c, int last_width) {
  fmt::print(out, "  {:>5} {:>9} {:>9} {:>9} {:>8} {:>12} {:>8} {:>8} {:>8} {:>8} {:>{}}\n", id,
             c.nmi_received, c.nmi_coalesced, c.nmi_delivered, c.vm_exits_nmi, c.dispatch_cycles,
             c.stats.normal, c.stats.unknown, c.stats.external, c.stats.swallow, c.lost,
             last_width);
}

/// PMIs a masked LVTPC dropped (they reach no CPU, so no column counts them):
/// one line, only when there are any.
void pmi_dropped_line(std::ostream& out, const ScenarioResult& r) {
  const std::uint64_t all = total(r, &CpuResult::pmi_dropped);
  if (all == 0) return;
  fmt::print(out, "  PMIs dropped at a masked LVTPC: {} (", all);
  const char* sep = "";
  for (const auto& c : r.cpus) {
    if (c.pmi_dropped == 0) continue;
    fmt::print(out, "{}cpu {}: {}", sep, c.id, c.pmi_dropped);
    sep = ", ";
  }
  fmt::print(out, ")\n");
}

std::string ratio(double bitmap, double polling) {
  if (bitmap == 0) return polling == 0 ? "=" : "-";
  return fmt::format("{:.2f}", polling / bitmap);
}

void compare_row(std::ostream& out, std::string_view what, double b, double p, bool integral) {
  if (integral) {
    fmt::print(out, "  {:<36} {:>14} {:>14} {:>10}\n", what, static_cast<std::uint64_t>(b),
               static_cast<std::uint64_t>(p), ratio(b, p));
  } else {
    fmt::print(out, "  {:<36} {:>14.1f} {:>14.1f} {:>10}\n", what, b, p, ratio(b, p));
  }
}

/// `cycles` as microseconds at `mhz`, to the ns (the kernel's cycles_to_ns
/// truncation), without overflow for any cycle count.
std::string microseconds(std::uint64_t cycles, std::uint32_t mhz) {
  const std::uint64_t f = mhz ? mhz : 1;
  return fmt::format("{}.{:03} us", cycles / f, (cycles % f) * 1000 / f);
}

std::string_view stop_text(StopReason r) {
  switch (r) {
    case StopReason::none:
      break;
    case StopReason::interrupted:
      return "interrupted by a signal";
    case StopReason::max_cycles:
      return "--max-cycles reached";
    case StopReason::max_wall:
      return "--max-wall reached";
  }
  return "";
}

/// The handler table (the host's at `indent` 2, a guest's deeper).
void handler_table(std::ostream& out, const std::vector<HandlerResult>& handlers,
                   std::string_view indent) {
  fmt::print(out, "{}{:<20} {:<9} {:>6} {:>8} {:>8} {:>12}\n", indent, "handler", "type", "vector",
             "calls", "handled", "cycles");
  for (const auto& h : handlers) {
    fmt::print(out, "{}{:<20} {:<9} {:>6} {:>8} {:>8} {:>12}\n", indent, h.name, to_string(h.type),
               h.vector, h.calls, h.handled, h.cycles);
  }
}

/// compare's rows of each handler of the first run, calls then cycles, against
/// the polling run's handler of the same name (the first of a name, as
/// find_handler gives; one scan, not one per handler of a scenario with
/// thousands); `prefix` comes before each row's name ("vm0 " for a guest's).
void handler_rows(std::ostream& out, std::string_view prefix,
                  const std::vector<HandlerResult>& first,
                  const std::vector<HandlerResult>& polling) {
  std::unordered_map<std::string_view, const HandlerResult*> by_name;
  by_name.reserve(polling.size());
  for (const auto& h : polling)
    by_name.emplace(h.name, &h);
  auto find = [&](const std::string& name) -> const HandlerResult* {
    const auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  };
  for (const auto& h : first) {
    const HandlerResult* ph = find(h.name);
    compare_row(out, fmt::format("{}calls {}", prefix, h.name), static_cast<double>(h.calls),
                ph ? static_cast<double>(ph->calls) : 0, true);
  }
  for (const auto& h : first) {
    const HandlerResult* ph = find(h.name);
    compare_row(out, fmt::format("{}cycles {}", prefix, h.name), static_cast<double>(h.cycles),
                ph ? static_cast<double>(ph->cycles) : 0, true);
  }
}

/// Each [[vm]]: its vCPUs (KVM's counts, the guest kernel's stats), the guest
/// kernel's handlers and console (docs/cli.md "run").
void vm_sections(std::ostream& out, const ScenarioResult& r, bool running, int last_width) {
  for (const auto& vm : r.vms) {
    fmt::print(out, "\nvm {}: {} vCPU{}\n", vm.name, vm.vcpus.size(),
               vm.vcpus.size() == 1 ? "" : "s");
    fmt::print(out,
               "  {:>5} {:>8} {:>9} {:>12} {:>9} {:>15} {:>11} {:>8} {:>8} {:>8} {:>8} {:>{}}\n",
               "vcpu", "host_cpu", "injected", "window_exits", "delivered", "dispatch_cycles",
               "exit_cycles", "normal", "unknown", "external", "swallow",
               running ? "pending" : "lost", last_width);
    for (const auto& v : vm.vcpus) {
      fmt::print(out,
                 "  {:>5} {:>8} {:>9} {:>12} {:>9} {:>15} {:>11} {:>8} {:>8} {:>8} {:>8} {:>{}}\n",
                 v.id, v.host_cpu, v.nmi_injected, v.nmi_window_exits, v.nmi_delivered,
                 v.dispatch_cycles, v.exit_cycles, v.stats.normal, v.stats.unknown,
                 v.stats.external, v.stats.swallow, v.lost, last_width);
    }
    if (!vm.handlers.empty()) {
      fmt::print(out, "\n");
      handler_table(out, vm.handlers, "  ");
    }
    if (!vm.console.empty()) {
      fmt::print(out, "\n  console of {}:\n", vm.name);
      for (const auto& l : vm.console) {
        if (l.cpu == kNoCpu) {
          fmt::print(out, "    [{:>12}]        {}\n", l.cycle, l.text);
        } else {
          fmt::print(out, "    [{:>12}] vcpu {:<3} {}\n", l.cycle, l.cpu, l.text);
        }
      }
    }
  }
}

}  // namespace

void write_summary(std::ostream& out, const ScenarioResult& r, RunState state) {
  const bool running = state == RunState::running;
  const int last_width = running ? 8 : 6;
  fmt::print(out, "scenario {}: {} CPUs, {}, nmi_source {}, {}, kernel {}, timing {}, {} MHz\n",
             r.scenario, r.config.cpus, to_string(r.config.delivery),
             r.config.nmi_source ? "on" : "off", to_string(r.config.apic),
             to_string(r.config.kernel), r.config.timing, r.config.frequency_mhz);
  if (running) {
    fmt::print(out,
               "running: at cycle {} ({}), events left; the counts are those so far, and "
               "`pending` is work no NMI has handled yet\n\n",
               r.end_cycle, microseconds(r.end_cycle, r.config.frequency_mhz));
  } else if (r.stopped != StopReason::none) {
    fmt::print(out, "STOPPED at cycle {}: {}; the run is incomplete, its counts partial\n\n",
               r.end_cycle, stop_text(r.stopped));
  } else {
    fmt::print(out, "ended at cycle {} ({})\n\n", r.end_cycle,
               microseconds(r.end_cycle, r.config.frequency_mhz));
  }

  fmt::print(out, "  {:>5} {:>9} {:>9} {:>9} {:>8} {:>12} {:>8} {:>8} {:>8} {:>8} {:>{}}\n", "cpu",
             "received", "coalesced", "delivered", "vm_exits", "dispatch_cyc", "normal", "unknown",
             "external", "swallow", running ? "pending" : "lost", last_width);
  std::size_t idle = 0;
  for (const auto& c : r.cpus) {
    if (active(c)) {
      cpu_row(out, fmt::format("{}", c.id), c, last_width);
    } else {
      ++idle;
    }
  }
  CpuResult sum;
  sum.nmi_received = total(r, &CpuResult::nmi_received);
  sum.nmi_coalesced = total(r, &CpuResult::nmi_coalesced);
  sum.nmi_delivered = total(r, &CpuResult::nmi_delivered);
  sum.vm_exits_nmi = total(r, &CpuResult::vm_exits_nmi);
  sum.dispatch_cycles = total(r, &CpuResult::dispatch_cycles);
  sum.stats.normal = total_stat(r, &kernel::NmiStats::normal);
  sum.stats.unknown = total_stat(r, &kernel::NmiStats::unknown);
  sum.stats.external = total_stat(r, &kernel::NmiStats::external);
  sum.stats.swallow = total_stat(r, &kernel::NmiStats::swallow);
  sum.lost = total(r, &CpuResult::lost);
  cpu_row(out, "all", sum, last_width);
  if (idle)
    fmt::print(out, "  ({} CPU{} without NMI activity not shown)\n", idle, idle == 1 ? "" : "s");
  pmi_dropped_line(out, r);

  if (!r.handlers.empty()) {
    fmt::print(out, "\n");
    handler_table(out, r.handlers, "  ");
  }

  Summary d = r.dispatch_samples.summary();
  if (d.count) {
    fmt::print(out, "\ndispatch cycles per NMI: n={} mean={:.1f} p50={} p99={} min={} max={}\n",
               d.count, d.mean, d.p50, d.p99, d.min, d.max);
  }
  vm_sections(out, r, running, last_width);

  if (!r.console.empty()) {
    fmt::print(out, "\nconsole:\n");
    for (const auto& l : r.console) {
      if (l.cpu == kNoCpu) {
        fmt::print(out, "  [{:>12}]       {}\n", l.cycle, l.text);
      } else {
        fmt::print(out, "  [{:>12}] cpu {:<3} {}\n", l.cycle, l.cpu, l.text);
      }
    }
  }
  if (r.panic) {
    fmt::print(out, "\nPANIC at cycle {} on cpu {}: {}\n", r.panic->cycle, r.panic->cpu,
               r.panic->message);
  }

  if (!r.expectations.empty()) {
    fmt::print(out, "\nexpectations{}:\n", running ? " (so far: the run goes on)" : "");
    std::size_t passed = 0;
    for (const auto& e : r.expectations) {
      if (e.passed) {
        ++passed;
        fmt::print(out, "  PASS  {}\n", e.text);
      } else {
        // A panic expectation's value is a truth value; every other one a count.
        if (e.boolean) {
          fmt::print(out, "  FAIL  {}  (actual: {})\n", e.text, e.actual != 0);
        } else {
          fmt::print(out, "  FAIL  {}  (actual: {})\n", e.text, e.actual);
        }
      }
    }
    if (running) {
      fmt::print(out, "\nRUNNING: {} of {} expectations hold so far\n", passed,
                 r.expectations.size());
      return;
    }
    fmt::print(out, "\n{}: {} of {} expectations hold{}\n",
               r.stopped != StopReason::none ? "INCOMPLETE"
               : r.passed                    ? "PASSED"
                                             : "FAILED",
               passed, r.expectations.size(),
               r.stopped != StopReason::none ? " on the partial run" : "");
  } else if (running) {
    fmt::print(out, "\nno expectations\n");
  } else {
    fmt::print(out, "\nno expectations{}\n",
               r.stopped != StopReason::none ? " (INCOMPLETE: the run was cut short)" : "");
  }
}

void write_compare(std::ostream& out, const ScenarioResult& b, const ScenarioResult& p) {
  // The first column is the scenario as written. With NMI-source on that is
  // bitmap dispatch; with it off both columns poll and the table holds the same
  // configuration twice: say so rather than call the first column "bitmap".
  const bool bitmap_on = b.config.nmi_source;
  fmt::print(out, "scenario {}: {} CPUs, {}, {} MHz; ", b.scenario, b.config.cpus,
             to_string(b.config.delivery), b.config.frequency_mhz);
  if (bitmap_on) {
    fmt::print(out, "bitmap = nmi_source on, polling = off\n\n");
  } else {
    fmt::print(out,
               "the scenario has nmi_source off, so both columns poll: \"as written\" and "
               "\"polling\" are the same configuration (bitmap against polling needs "
               "delivery = \"fred\" and nmi_source = true)\n\n");
  }
  const std::string_view first = bitmap_on ? "bitmap" : "as written";
  for (const auto& [name, r] : {std::pair{"bitmap", &b}, std::pair{"polling", &p}}) {
    if (r->stopped != StopReason::none) {
      fmt::print(out, "the {} run STOPPED at cycle {}: {}; its counts are partial\n", name,
                 r->end_cycle, stop_text(r->stopped));
    }
  }
  if (b.stopped != StopReason::none || p.stopped != StopReason::none) fmt::print(out, "\n");
  fmt::print(out, "  {:<36} {:>14} {:>14} {:>10}\n", "", first, "polling",
             bitmap_on ? "poll/bmp" : "ratio");
  handler_rows(out, "", b.handlers, p.handlers);
  Summary sb = b.dispatch_samples.summary();
  Summary sp = p.dispatch_samples.summary();
  compare_row(out, "NMIs dispatched", static_cast<double>(sb.count), static_cast<double>(sp.count),
              true);
  compare_row(out, "dispatch cycles per NMI, mean", sb.mean, sp.mean, false);
  compare_row(out, "dispatch cycles per NMI, p50", static_cast<double>(sb.p50),
              static_cast<double>(sp.p50), true);
  compare_row(out, "dispatch cycles per NMI, p99", static_cast<double>(sb.p99),
              static_cast<double>(sp.p99), true);
  compare_row(out, "lost work items", static_cast<double>(total(b, &CpuResult::lost)),
              static_cast<double>(total(p, &CpuResult::lost)), true);
  compare_row(out, "unknown NMIs", static_cast<double>(total_stat(b, &kernel::NmiStats::unknown)),
              static_cast<double>(total_stat(p, &kernel::NmiStats::unknown)), true);
  compare_row(out, "swallowed NMIs", static_cast<double>(total_stat(b, &kernel::NmiStats::swallow)),
              static_cast<double>(total_stat(p, &kernel::NmiStats::swallow)), true);
  // Each VM's guest kernel and KVM's counts, by name (the polling run has
  // NMI-source off in the guests too).
  for (const auto& vb : b.vms) {
    const VmResult* vp = nullptr;
    for (const auto& v : p.vms) {
      if (v.name == vb.name) vp = &v;
    }
    static const std::vector<HandlerResult> kNone;
    handler_rows(out, fmt::format("{} ", vb.name), vb.handlers, vp ? vp->handlers : kNone);
    // Over the vCPUs: these counters of the result's vms[].vcpus[], each a row.
    static constexpr std::pair<std::string_view, std::string_view> kRows[] = {
        {"NMIs injected", "nmi_injected"},
        {"NMI-window exits", "nmi_window_exits"},
        {"NMIs delivered", "nmi_delivered"},
        {"guest dispatch cycles", "dispatch_cycles"},
        {"host cycles in VM exits", "exit_cycles"},
        {"lost work items", "lost"},
        {"unknown NMIs", "unknown"},
    };
    for (const auto& [label, key] : kRows) {
      const VcpuCounter& counter = *find_vcpu_counter(key);
      auto sum = [&](const VmResult* vm) {
        std::uint64_t n = 0;
        if (vm != nullptr) {
          for (const auto& v : vm->vcpus)
            n += counter.get(v);
        }
        return static_cast<double>(n);
      };
      compare_row(out, fmt::format("{} {}", vb.name, label), sum(&vb), sum(vp), true);
    }
  }
  compare_row(out, "end cycle", static_cast<double>(b.end_cycle), static_cast<double>(p.end_cycle),
              true);
  // The same end in time, at the run's one clock (config.frequency_mhz).
  auto us = [](const ScenarioResult& r) {
    return static_cast<double>(r.end_cycle) / (r.config.frequency_mhz ? r.config.frequency_mhz : 1);
  };
  compare_row(out, "end time, us", us(b), us(p), false);

  // The exit status is the first run's expectations (compare_command): name the
  // ones that failed, as `run`'s summary does.
  std::size_t failed = 0;
  for (const auto& e : b.expectations)
    failed += e.passed ? 0 : 1;
  if (failed == 0) return;
  fmt::print(out, "\nexpectations of the {} run that fail ({} of {}):\n", first, failed,
             b.expectations.size());
  for (const auto& e : b.expectations) {
    if (e.passed) continue;
    if (e.boolean) {
      fmt::print(out, "  FAIL  {}  (actual: {})\n", e.text, e.actual != 0);
    } else {
      fmt::print(out, "  FAIL  {}  (actual: {})\n", e.text, e.actual);
    }
  }
}

}  // namespace fredsim::scenario
