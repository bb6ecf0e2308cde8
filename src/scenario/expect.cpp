// Expectations: each ExpectSpec is checked against the counts of a result.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <regex>

#include "fredsim/scenario/report.hpp"
#include "scenario/console_pattern.hpp"

namespace fredsim::scenario {
namespace {

std::uint64_t stat_of(const CpuResult& c, StatKind k) {
  switch (k) {
    case StatKind::normal:
      return c.stats.normal;
    case StatKind::unknown:
      return c.stats.unknown;
    case StatKind::external:
      return c.stats.external;
    case StatKind::swallow:
      return c.stats.swallow;
    case StatKind::lost:
      return c.lost;
  }
  return 0;
}

std::uint64_t console_lines(const ExpectSpec& e, const std::vector<ConsoleLine>& console) {
  if (!e.regex) return 0;
  std::uint64_t n = 0;
  for (const auto& l : console) {
    if (e.cpu && l.cpu != *e.cpu) continue;
    if (std::regex_search(l.text, e.regex->re)) ++n;
  }
  return n;
}

const HandlerResult* find_in(const std::vector<HandlerResult>& hs, std::string_view name) {
  for (const auto& h : hs) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

std::uint64_t stat_of(const VcpuResult& v, StatKind k) {
  switch (k) {
    case StatKind::normal:
      return v.stats.normal;
    case StatKind::unknown:
      return v.stats.unknown;
    case StatKind::external:
      return v.stats.external;
    case StatKind::swallow:
      return v.stats.swallow;
    case StatKind::lost:
      return v.lost;
  }
  return 0;
}

/// An expectation with `vm = NAME`: judged on that VM's guest kernel and its
/// vCPUs (the loader allows handler, stat, counter, console and panic there).
std::uint64_t actual_in_vm(const ExpectSpec& e, const VmResult& vm) {
  switch (e.kind) {
    case ExpectSpec::Kind::stat: {
      std::uint64_t sum = 0;
      for (const auto& v : vm.vcpus) {
        if (!e.cpu || v.id == *e.cpu) sum += stat_of(v, e.stat);
      }
      return sum;
    }
    case ExpectSpec::Kind::counter: {
      const VcpuCounter* counter = find_vcpu_counter(e.counter);
      std::uint64_t sum = 0;
      for (const auto& v : vm.vcpus) {
        if (counter && (!e.cpu || v.id == *e.cpu)) sum += counter->get(v);
      }
      return sum;
    }
    case ExpectSpec::Kind::console:
      return console_lines(e, vm.console);
    case ExpectSpec::Kind::handler_calls:
    case ExpectSpec::Kind::handler_handled: {
      const HandlerResult* h = find_in(vm.handlers, e.handler);
      if (!h) return 0;
      const bool calls = e.kind == ExpectSpec::Kind::handler_calls;
      if (!e.cpu) return calls ? h->calls : h->handled;
      const HandlerCpuCounts c = h->on_cpu(*e.cpu);
      return calls ? c.calls : c.handled;
    }
    case ExpectSpec::Kind::panic:
      return vm.panic ? 1 : 0;
    case ExpectSpec::Kind::trace:
      break;
  }
  return 0;
}

std::uint64_t actual_of(const ExpectSpec& e, const ScenarioResult& r) {
  if (e.vm) return *e.vm < r.vms.size() ? actual_in_vm(e, r.vms[*e.vm]) : 0;
  switch (e.kind) {
    case ExpectSpec::Kind::stat:
    case ExpectSpec::Kind::counter: {
      const CpuCounter* counter =
          e.kind == ExpectSpec::Kind::counter ? find_cpu_counter(e.counter) : nullptr;
      std::uint64_t sum = 0;
      for (const auto& c : r.cpus) {
        if (e.cpu && c.id != *e.cpu) continue;
        if (e.kind == ExpectSpec::Kind::stat) {
          sum += stat_of(c, e.stat);
        } else if (counter) {
          sum += counter->get(c);
        }
      }
      return sum;
    }
    case ExpectSpec::Kind::console:
      return console_lines(e, r.console);
    case ExpectSpec::Kind::panic:
      return r.panic ? 1 : 0;
    case ExpectSpec::Kind::trace:
      return e.trace_slot < r.trace_counts.size() ? r.trace_counts[e.trace_slot] : 0;
    case ExpectSpec::Kind::handler_calls:
    case ExpectSpec::Kind::handler_handled:
      break;
  }
  const HandlerResult* h = r.find_handler(e.handler);
  if (!h) return 0;
  bool calls = e.kind == ExpectSpec::Kind::handler_calls;
  if (!e.cpu) return calls ? h->calls : h->handled;
  HandlerCpuCounts c = h->on_cpu(*e.cpu);
  return calls ? c.calls : c.handled;
}

bool holds(Comparison cmp, std::uint64_t actual, std::uint64_t expected) {
  switch (cmp) {
    case Comparison::equals:
      return actual == expected;
    case Comparison::at_least:
      return actual >= expected;
    case Comparison::at_most:
      return actual <= expected;
  }
  return false;
}

}  // namespace

std::string where_text(const TraceWhere& w) {
  if (w.list) return fmt::format("{} = [{}]", w.field, fmt::join(*w.list, ", "));
  if (w.boolean) return fmt::format("{} = {}", w.field, *w.boolean);
  if (w.text) {
    // A "0x.." string reads as written, unquoted like a hex field of the text trace.
    if (w.number) return fmt::format("{} = {}", w.field, *w.text);
    return fmt::format("{} = \"{}\"", w.field, *w.text);
  }
  return fmt::format("{} = {}", w.field, w.number.value_or(0));
}

std::string expectation_text(const ExpectSpec& e) {
  std::string on_cpu = e.cpu ? fmt::format(" on cpu {}", *e.cpu) : std::string();
  switch (e.kind) {
    case ExpectSpec::Kind::stat:
      return fmt::format("stat {}{}: {} {}", to_string(e.stat), on_cpu, to_symbol(e.cmp), e.value);
    case ExpectSpec::Kind::counter:
      return fmt::format("counter {}{}: {} {}", e.counter, on_cpu, to_symbol(e.cmp), e.value);
    case ExpectSpec::Kind::console:
      return fmt::format("console \"{}\"{}: lines {} {}", e.pattern, on_cpu, to_symbol(e.cmp),
                         e.value);
    case ExpectSpec::Kind::panic:
      return fmt::format("panic: {} {}", to_symbol(e.cmp), e.value != 0);
    case ExpectSpec::Kind::trace: {
      std::string where;
      for (const auto& w : e.where)
        where += (where.empty() ? " where " : ", ") + where_text(w);
      return fmt::format("trace {}{}: records {} {}", e.trace_event, where, to_symbol(e.cmp),
                         e.value);
    }
    case ExpectSpec::Kind::handler_calls:
    case ExpectSpec::Kind::handler_handled:
      break;
  }
  return fmt::format("handler {}{}: {} {} {}", e.handler, on_cpu,
                     e.kind == ExpectSpec::Kind::handler_calls ? "calls" : "handled",
                     to_symbol(e.cmp), e.value);
}

std::vector<ExpectationResult> evaluate_expectations(const std::vector<ExpectSpec>& expects,
                                                     const ScenarioResult& result) {
  std::vector<ExpectationResult> out;
  out.reserve(expects.size());
  for (const auto& e : expects) {
    ExpectationResult r;
    r.text = expectation_text(e);
    if (e.vm && *e.vm < result.vms.size()) {
      r.text = fmt::format("vm {}: {}", result.vms[*e.vm].name, r.text);
    }
    r.actual = actual_of(e, result);
    r.expected = e.value;
    r.passed = holds(e.cmp, r.actual, e.value);
    r.boolean = e.kind == ExpectSpec::Kind::panic;
    r.loc = e.loc;
    out.push_back(std::move(r));
  }
  return out;
}

void apply_expectations(const ScenarioSpec& spec, ScenarioResult& result) {
  result.expectations = evaluate_expectations(spec.expects, result);
  result.passed = true;
  for (const auto& e : result.expectations)
    result.passed = result.passed && e.passed;
  // Counts of a run cut short prove nothing about the whole scenario.
  if (result.stopped != StopReason::none) result.passed = false;
}

}  // namespace fredsim::scenario
