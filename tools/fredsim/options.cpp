// What the subcommands share (options.hpp).
#include "options.hpp"

#include <CLI/CLI.hpp>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <charconv>
#include <chrono>

#include "exit_codes.hpp"
#include "signals.hpp"

namespace fredsim::cli {

using scenario::RunLimits;
using scenario::RunProgress;
using scenario::StopReason;

void add_limit_options(CLI::App& cmd, LimitOptions& limits) {
  cmd.add_option("--max-cycles", limits.max_cycles,
                 "Stop the run at simulated cycle N (the result says \"stopped\": \"max_cycles\"; "
                 "exit status 3)")
      ->type_name("N");
  cmd.add_option(
         "--max-wall", limits.max_wall_seconds,
         "Stop the run after SECONDS of host time (\"stopped\": \"max_wall\"; exit status 3)")
      ->type_name("SECONDS")
      ->check(CLI::PositiveNumber);
}

void ProgressLine::show(const RunProgress& p) {
  const double speed = p.host_seconds > 0 ? static_cast<double>(p.cycle) / p.host_seconds : 0;
  // \r and erase-to-end-of-line: the next update or clear() overwrites it.
  fmt::print(err_, "\rfredsim: cycle {}  NMIs {}  {:.3g} cycles/s  ({:.0f} s)\x1b[K", p.cycle,
             p.nmis, speed, p.host_seconds);
  err_.flush();
  shown_ = true;
}

void ProgressLine::clear() {
  if (!shown_) return;
  err_ << "\r\x1b[K" << std::flush;
  shown_ = false;
}

RunLimits make_limits(const LimitOptions& o, ProgressLine& line) {
  RunLimits l;
  l.interrupt = interrupt_flag();
  l.max_cycles = o.max_cycles;
  if (o.max_wall_seconds) {
    l.deadline = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(*o.max_wall_seconds));
  }
  if (o.progress) l.progress = [&line](const RunProgress& p) { line.show(p); };
  return l;
}

int run_status(const scenario::ScenarioResult& r, std::ostream& err) {
  if (const int sig = caught_signal(); sig != 0) {
    err << fmt::format("fredsim: stopped by {} at cycle {}; the outputs hold the run so far{}\n",
                       signal_name(sig), r.end_cycle,
                       r.stopped == StopReason::interrupted ? ", marked interrupted" : "");
    return signal_status(sig);
  }
  if (r.stopped != StopReason::none) return kExitCutShort;
  return r.passed ? kExitPassed : kExitFailed;
}

int report_error(std::ostream& err, const Error& e) {
  err << e.message << '\n';
  return kExitBadInput;
}

int report_error(std::ostream& err, const Status& st) {
  return report_error(err, st.error());
}

std::vector<scenario::Override> to_overrides(const std::vector<std::string>& sets) {
  std::vector<scenario::Override> out;
  out.reserve(sets.size());
  for (const auto& s : sets)
    out.push_back(scenario::Override{s});
  return out;
}

Result<scenario::ScenarioSpec> load(const std::string& file,
                                    const std::vector<scenario::Override>& overrides) {
  for (const auto& o : overrides) {
    if (auto st = scenario::check_override_syntax(o.text); !st) return st.error();
  }
  return scenario::load_scenario_file(file, overrides);
}

Result<ShardArg> parse_shard(std::string_view text) {
  auto bad = [&](std::string_view what) {
    return Error{fmt::format("error: --shard {}: {}", text, what)};
  };
  const auto slash = text.find('/');
  auto number = [](std::string_view s, unsigned& v) {
    if (s.empty() || s.size() > 9) return false;  // digits only, no sign, no overflow
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  };
  ShardArg a;
  if (slash == std::string_view::npos || !number(text.substr(0, slash), a.index) ||
      !number(text.substr(slash + 1), a.count)) {
    return bad("give K/N, shard K of N with 1 <= K <= N (e.g. --shard 2/3)");
  }
  if (a.count == 0) return bad("N, the number of shards, must be at least 1");
  if (a.index == 0) return bad(fmt::format("K counts from 1 (1..{})", a.count));
  if (a.index > a.count) {
    return bad(fmt::format("K is past N: there are {} shards, 1..{}", a.count, a.count));
  }
  return a;
}

}  // namespace fredsim::cli
