// Running a suite: which tests, what each one's verdict is, and -j threads. The
// order of the checks and the verdicts follow kvm-unit-tests' scripts/runtime.bash
// (a test is skipped for its arch, its nodefault group or its disabled_if before
// anything runs; one that cannot start fails "prematurely"; a timeout fails).
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include "fredsim/machine/limits.hpp"
#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/spec.hpp"
#include "fredsim/suite/run.hpp"
#include "scenario/input.hpp"

namespace fredsim::suite {

// The scenario layer's names a suite test runs through.
using scenario::apply_expectations;
using scenario::check_override_syntax;
using scenario::load_scenario_file;
using scenario::Override;
using scenario::RunOptions;
using scenario::ScenarioResult;
using scenario::ScenarioRunner;
using scenario::ScenarioSession;
using scenario::ScenarioSpec;

namespace input = scenario::input;
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kNodefault = "nodefault";  // docs/unittests.txt "groups"
constexpr std::string_view kArch = "x86_64";          // FRED is a 64-bit mode feature
constexpr std::string_view kMaxSmp = "$MAX_SMP";
constexpr std::string_view kGuestBinaryExts[] = {".flat", ".elf", ".efi", ".bin"};

// A timed test runs in chunks of simulated cycles; the chunk grows while a chunk
// takes less than kChunkFast of host time and shrinks past kChunkSlow, so the
// clock is read often enough without costing much.
constexpr Cycle kFirstChunk = Cycle{1} << 14;
constexpr Cycle kMaxChunk = Cycle{1} << 40;
constexpr auto kChunkFast = std::chrono::milliseconds(2);
constexpr auto kChunkSlow = std::chrono::milliseconds(20);

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

std::string format_seconds(double s) {
  return fmt::format("{}s", s);
}

/// The value a target's overrides give `key` (the last one), unquoted; "" if none.
std::string target_value(const Target& t, std::string_view key) {
  std::string out;
  for (const auto& s : t.sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos) continue;
    std::string_view k(s.data(), eq);
    while (!k.empty() && k.back() == ' ')
      k.remove_suffix(1);
    if (k != key) continue;
    std::string_view v = std::string_view(s).substr(eq + 1);
    while (!v.empty() && v.front() == ' ')
      v.remove_prefix(1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
      v = v.substr(1, v.size() - 2);
    }
    out = std::string(v);
  }
  return out;
}

TestOutcome skip(TestOutcome o, std::string reason) {
  o.verdict = Verdict::skip;
  o.reason = one_line(std::move(reason));
  return o;
}

TestOutcome fail(TestOutcome o, FailKind kind, std::string reason) {
  o.verdict = Verdict::fail;
  o.fail_kind = kind;
  o.reason = one_line(std::move(reason));
  return o;
}

/// Runs a loaded scenario to its end, or until `timeout` seconds of host time
/// have passed since `start` (then nullopt). `start` is taken before the
/// scenario was read, so loading counts as timeout(1) would count it. Without a
/// timeout: runner.run(), the same run as `fredsim run`. With one: a session
/// stepped in chunks (runner.start()), which checks the clock between chunks and
/// drops the session on a timeout, so no thread is left running. (The session's
/// end cycle is that of the last chunk, not of the last event; it is not in a
/// suite's report.)
Result<std::optional<ScenarioResult>> execute(const ScenarioSpec& spec,
                                              std::optional<double> timeout,
                                              Clock::time_point start, const ScenarioRunner& runner,
                                              const volatile std::sig_atomic_t* interrupt) {
  RunOptions options;
  options.limits.interrupt = interrupt;
  if (!timeout) {
    auto r = runner.run(spec, options);
    if (!r) return r.error();
    return std::optional<ScenarioResult>(std::move(*r));
  }
  const auto limit = std::chrono::duration<double>(*timeout);
  options.session_lines = false;  // nothing prints the steps: trace only what the run needs
  auto started = runner.start(spec, options);
  if (!started) return started.error();
  ScenarioSession& session = **started;
  Cycle chunk = kFirstChunk;
  while (!session.done() && !(interrupt && *interrupt)) {
    if (Clock::now() - start >= limit) return std::optional<ScenarioResult>();
    const auto t0 = Clock::now();
    const Cycle now = session.now();
    session.run_to(now >= kNever - chunk ? kNever - 1 : now + chunk);
    const auto took = Clock::now() - t0;
    if (took < kChunkFast && chunk < kMaxChunk) chunk *= 2;
    if (took > kChunkSlow && chunk > 1) chunk /= 2;
  }
  // As timeout(1) would: a run that ended past its time limit timed out.
  if (Clock::now() - start > limit) return std::optional<ScenarioResult>();
  // A run that stopped on an error (simulated time ran out) has no result.
  if (Status st = session.status(); !st) return st.error();
  return std::optional<ScenarioResult>(session.result());
}

std::string failed_expectations(const ScenarioResult& r) {
  std::string out;
  for (const auto& e : r.expectations) {
    if (e.passed) continue;
    if (!out.empty()) out += "; ";
    if (e.boolean) {
      out += fmt::format("{}, actual {}", e.text, e.actual != 0);  // panic: a truth value
    } else {
      out += fmt::format("{}, actual {}", e.text, e.actual);
    }
  }
  return out;
}

TestOutcome run_test_impl(const Suite& suite, const SuiteTest& test, const SuiteRunOptions& options,
                          const ScenarioRunner& runner) {
  TestOutcome o;
  o.name = test.name;
  o.test = &test;
  const Target& target = *options.target;

  // run_tests.sh leaves nodefault tests out of a plain run; naming the test or a
  // group of it selects it.
  if (options.groups.empty() && options.tests.empty() && contains(test.groups, kNodefault)) {
    return skip(std::move(o), "in group nodefault: select it with -g or by name");
  }
  if (!test.arch.empty() && test.arch != kArch) {
    return skip(std::move(o), fmt::format("arch = {}: fredsim models {}", test.arch, kArch));
  }
  if (test.disabled_if) {
    const std::string delivery = target_value(target, "system.delivery");
    const std::string nmi_source = target_value(target, "system.nmi_source");
    const ConditionVars vars{target.name, delivery,   nmi_source,   test.smp,
                             test.arch,   test.accel, test.machine, test.file};
    if (test.disabled_if->eval(vars)) {
      std::string why = "disabled_if " + test.disabled_if->text();
      if (!test.disabled_reason.empty()) why += ": " + test.disabled_reason;
      return skip(std::move(o), std::move(why));
    }
  }
  const std::filesystem::path file(test.file);
  if (file.extension() != ".toml") {
    const std::string ext = file.extension().string();
    const bool binary = std::find(std::begin(kGuestBinaryExts), std::end(kGuestBinaryExts), ext) !=
                        std::end(kGuestBinaryExts);
    return skip(std::move(o), binary
                                  ? fmt::format("{} is a guest binary, not a scenario", test.file)
                                  : fmt::format("{} is not a scenario (fredsim runs .toml "
                                                "scenario files)",
                                                test.file));
  }

  // The overrides in the order they apply, later ones winning: the target's, smp,
  // test_args, then the target's own params.
  const std::filesystem::path path =
      file.is_absolute() ? file : std::filesystem::path(suite.path).parent_path() / file;
  std::vector<std::string> sets(target.sets.begin(), target.sets.end());
  std::optional<std::string> smp_problem;
  if (test.smp == kMaxSmp) {
    sets.push_back(fmt::format("system.cpus={}", machine::kMaxCpus));
  } else if (!test.smp.empty() && test.smp.front() == '$') {
    smp_problem = fmt::format("smp = {}: fredsim reads a number or {}", test.smp, kMaxSmp);
  } else if (!test.smp.empty()) {
    // As a TOML integer: the cfg's "08" is 8 (the reader checked it is a number).
    sets.push_back("system.cpus=" + std::to_string(std::stoull(test.smp)));
  }
  sets.insert(sets.end(), test.test_args.begin(), test.test_args.end());
  const auto params = test.params_for(target.name);
  sets.insert(sets.end(), params.begin(), params.end());

  o.command = "fredsim run " + shell_quote(path.string());
  for (const auto& s : sets)
    o.command += " --set " + shell_quote(s);
  if (smp_problem) return fail(std::move(o), FailKind::premature, *smp_problem);

  // The test's time starts here: reading and checking the scenario count too.
  const auto started = Clock::now();
  std::vector<Override> overrides;
  for (const auto& s : sets) {
    if (auto st = check_override_syntax(s); !st) {
      return fail(std::move(o), FailKind::premature, st.error().message);
    }
    overrides.push_back(Override{s});
  }
  auto spec = load_scenario_file(path.string(), overrides);
  if (!spec) return fail(std::move(o), FailKind::premature, spec.error().message);

  std::optional<double> timeout =
      test.timeout_seconds ? test.timeout_seconds : options.default_timeout;
  if (timeout && *timeout <= 0) timeout.reset();  // timeout(1): 0 disables it
  auto result = execute(*spec, timeout, started, runner, options.interrupt);
  // The runner's refusal to build the System is a failure to start, as a load error is.
  if (!result) return fail(std::move(o), FailKind::premature, result.error().message);
  if (!*result) {
    return fail(std::move(o), FailKind::timeout,
                fmt::format("timeout after {}", format_seconds(*timeout)));
  }
  ScenarioResult& r = **result;
  apply_expectations(*spec, r);
  if (!r.passed) return fail(std::move(o), FailKind::expectation, failed_expectations(r));
  o.verdict = Verdict::pass;
  return o;
}

}  // namespace

Result<std::vector<const SuiteTest*>> select_tests(const Suite& suite,
                                                   const SuiteRunOptions& options) {
  for (const auto& name : options.tests) {
    const bool found = std::any_of(suite.tests.begin(), suite.tests.end(),
                                   [&](const SuiteTest& t) { return t.name == name; });
    if (!found) return Error{fmt::format("error: {}: no test named '{}'", suite.path, name)};
  }
  std::vector<const SuiteTest*> out;
  for (const auto& t : suite.tests) {
    if (!options.tests.empty() && !contains(options.tests, t.name)) continue;
    if (!options.groups.empty() &&
        std::none_of(options.groups.begin(), options.groups.end(),
                     [&](const std::string& g) { return contains(t.groups, g); })) {
      continue;
    }
    out.push_back(&t);
  }
  return out;
}

TestOutcome run_test(const Suite& suite, const SuiteTest& test, const SuiteRunOptions& options,
                     const ScenarioRunner& runner) {
  // Nothing may escape a worker thread (std::terminate): an exception from the
  // runner or the loader is this test's failure.
  try {
    return run_test_impl(suite, test, options, runner);
  } catch (const std::bad_alloc& e) {
    // Not an internal error: the test needs more memory than there is.
    TestOutcome o;
    o.name = test.name;
    o.test = &test;
    const bool known = dynamic_cast<const input::OutOfMemory*>(&e) != nullptr;
    return fail(std::move(o), FailKind::runner, known ? e.what() : "out of memory while running");
  } catch (const std::exception& e) {
    TestOutcome o;
    o.name = test.name;
    o.test = &test;
    return fail(std::move(o), FailKind::runner, fmt::format("internal error: {}", e.what()));
  } catch (...) {
    TestOutcome o;
    o.name = test.name;
    o.test = &test;
    return fail(std::move(o), FailKind::runner, "internal error");
  }
}

std::vector<TestOutcome> run_suite(
    const Suite& suite, std::span<const SuiteTest* const> selected, const SuiteRunOptions& options,
    const ScenarioRunner& runner,
    const std::function<void(std::size_t, const TestOutcome&)>& report) {
  const std::size_t n = selected.size();
  std::vector<TestOutcome> outcomes(n);
  const std::size_t jobs = std::min<std::size_t>(std::max(options.jobs, 1u), n);
  // After a signal no test starts, and one that was running is left out: it
  // did not run to its end (done = 2).
  auto interrupted = [&] { return options.interrupt && *options.interrupt; };
  auto ran_only = [&](const std::vector<char>& done) {
    std::vector<TestOutcome> ran;
    for (std::size_t i = 0; i < n; ++i) {
      if (done[i] == 1) ran.push_back(std::move(outcomes[i]));
    }
    return ran;
  };
  std::vector<char> done(n, 0);
  if (jobs <= 1) {
    for (std::size_t i = 0; i < n && !interrupted(); ++i) {
      outcomes[i] = run_test(suite, *selected[i], options, runner);
      if (interrupted()) break;
      done[i] = 1;
      if (report) report(i, outcomes[i]);
    }
    return ran_only(done);
  }

  // Workers take the next test index; the calling thread reports in cfg order as
  // soon as each next outcome is there. Running tests at once is safe:
  // ScenarioRunner::run and start are const, and SystemRunner builds a System of
  // its own for each call (machine, event queue, tracer, kernel, KVM), with no
  // mutable state shared between Systems. The one process-wide object is the
  // spdlog logger of sim/log.cpp, a function-local static (initialised once,
  // thread-safely) with a _mt sink and an atomic level. toml++ parses without
  // globals; the loader reads each file on its own stream.
  std::mutex m;
  std::condition_variable cv;
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      TestOutcome o;
      if (!interrupted()) o = run_test(suite, *selected[i], options, runner);
      {
        std::lock_guard<std::mutex> lock(m);
        outcomes[i] = std::move(o);
        done[i] = interrupted() ? 2 : 1;
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(jobs);
  try {
    for (std::size_t t = 0; t < jobs; ++t)
      threads.emplace_back(work);
  } catch (const std::system_error&) {
    // No more threads to be had: the ones started (or this one) do the rest.
    if (threads.empty()) work();
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return done[i] != 0; });
    const bool ran = done[i] == 1;
    lock.unlock();
    if (report && ran) report(i, outcomes[i]);
  }
  for (auto& t : threads)
    t.join();
  return ran_only(done);
}

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::pass:
      return "PASS";
    case Verdict::fail:
      return "FAIL";
    case Verdict::skip:
      return "SKIP";
  }
  return "?";
}

}  // namespace fredsim::suite
