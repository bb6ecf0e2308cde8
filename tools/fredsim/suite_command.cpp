// `fredsim suite` (docs/suites.md): reads the cfg and the targets, picks the target
// (--target, else FREDSIM_TARGET, else fred-nmisrc), runs the selected tests and
// writes the report. Exit status as run_tests.sh's, in the terms of docs/cli.md "Exit status": 0
// nothing failed, 1 a test failed, 2 bad input or usage.
#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>

#include "exit_codes.hpp"
#include "fredsim/suite/cfg.hpp"
#include "fredsim/suite/report.hpp"
#include "fredsim/suite/run.hpp"
#include "fredsim/suite/targets.hpp"
#include "outputs.hpp"
#include "signals.hpp"
#include "suite_command.hpp"

#include <CLI/CLI.hpp>

namespace fredsim::cli {

using namespace fredsim::suite;

namespace {

// The record of a suite shard (--shard-out) and its reading back (--merge):
// docs/scaling.md "The suite". The tests are those the command selects, each
// with its index in that selection.
constexpr std::string_view kShardFormat = "fredsim-suite-shard-1";
constexpr std::string_view kFailKinds[] = {"none", "premature", "timeout", "expectation", "runner"};

std::vector<std::string> selection_names(const std::vector<const SuiteTest*>& selected) {
  std::vector<std::string> names;
  for (const SuiteTest* t : selected)
    names.push_back(t->name);
  return names;
}

std::string shard_record(const SuiteCommand& cmd, const Target& target,
                         const std::vector<const SuiteTest*>& selected, ShardArg shard,
                         const std::vector<std::size_t>& mine,
                         const std::vector<TestOutcome>& outcomes) {
  using nlohmann::ordered_json;
  ordered_json list = ordered_json::array();
  for (std::size_t k = 0; k < outcomes.size() && k < mine.size(); ++k) {
    const TestOutcome& o = outcomes[k];
    list.push_back(ordered_json{{"index", mine[k]},
                                {"name", o.name},
                                {"verdict", std::string(to_string(o.verdict))},
                                {"fail_kind", kFailKinds[static_cast<std::size_t>(o.fail_kind)]},
                                {"reason", o.reason},
                                {"command", o.command}});
  }
  return ordered_json{{"format", kShardFormat},
                      {"suite", cmd.file},
                      {"target", target.name},
                      {"target_set", target.sets},
                      {"selection", selection_names(selected)},
                      {"shard", ordered_json{{"index", shard.index}, {"count", shard.count}}},
                      {"outcomes", list}}
             .dump(2) +
         "\n";
}

/// The outcomes of the whole selection from the shards' records, or an error
/// naming the record and what does not fit.
Result<std::vector<TestOutcome>> merge_records(const std::vector<std::string>& files,
                                               const Target& target,
                                               const std::vector<const SuiteTest*>& selected) {
  using nlohmann::json;
  const std::vector<std::string> names = selection_names(selected);
  std::vector<TestOutcome> outcomes(selected.size());
  std::vector<std::string> from(selected.size());  // the record that gave each outcome
  std::optional<unsigned> count;
  std::string count_file;
  std::vector<std::string> shard_file;
  for (const std::string& file : files) {
    auto bad = [&](std::string_view what) {
      return Error{fmt::format("error: suite --merge: {}: {}", file, what)};
    };
    std::ifstream in(file, std::ios::binary);
    if (!in) return bad(fmt::format("cannot read it: {}", std::strerror(errno)));
    std::ostringstream text;
    text << in.rdbuf();
    const json j = json::parse(text.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("format") ||
        j["format"] != kShardFormat) {
      return bad(fmt::format(
          "not a suite shard record (no \"format\": \"{}\"; written by suite --shard-out)",
          kShardFormat));
    }
    try {
      if (j.at("target").get<std::string>() != target.name ||
          j.at("target_set").get<std::vector<std::string>>() != target.sets) {
        return bad(fmt::format(
            "ran under target '{}', this command's target is '{}'{}",
            j.at("target").get<std::string>(), target.name,
            j.at("target").get<std::string>() == target.name ? " with other settings" : ""));
      }
      const auto sel = j.at("selection").get<std::vector<std::string>>();
      if (sel != names) {
        std::size_t i = 0;
        while (i < sel.size() && i < names.size() && sel[i] == names[i])
          ++i;
        return bad(fmt::format(
            "ran a selection of {} tests, this command selects {} (they differ at test {}: {} "
            "there, {} here): give the same suite file, TESTs and -g",
            sel.size(), names.size(), i + 1, i < sel.size() ? "'" + sel[i] + "'" : "none",
            i < names.size() ? "'" + names[i] + "'" : "none"));
      }
      const ShardArg shard{j.at("shard").at("index").get<unsigned>(),
                           j.at("shard").at("count").get<unsigned>()};
      if (shard.count == 0 || shard.index == 0 || shard.index > shard.count) {
        return bad(
            fmt::format("shard {}/{}: the index must be 1..count", shard.index, shard.count));
      }
      if (!count) {
        count = shard.count;
        count_file = file;
        shard_file.assign(shard.count + 1, "");
      } else if (*count != shard.count) {
        return bad(fmt::format("is shard {}/{} but {} is one of {}: merge the shards of one split",
                               shard.index, shard.count, count_file, *count));
      }
      if (!shard_file[shard.index].empty()) {
        return bad(fmt::format("shard {}/{} is given twice (also {})", shard.index, shard.count,
                               shard_file[shard.index]));
      }
      shard_file[shard.index] = file;
      std::vector<std::size_t> want;
      for (std::size_t i = shard.index - 1; i < names.size(); i += shard.count)
        want.push_back(i);
      const json& list = j.at("outcomes");
      if (list.size() != want.size()) {
        return bad(fmt::format("shard {}/{} of this selection has {} tests, the record has {}",
                               shard.index, shard.count, want.size(), list.size()));
      }
      for (std::size_t k = 0; k < want.size(); ++k) {
        const json& e = list[k];
        const std::size_t i = want[k];
        if (e.at("index").get<std::size_t>() != i || e.at("name").get<std::string>() != names[i]) {
          return bad(fmt::format("outcome {} is test {} '{}', shard {}/{} holds test {} '{}' there",
                                 k + 1, e.at("index").get<std::size_t>() + 1,
                                 e.at("name").get<std::string>(), shard.index, shard.count, i + 1,
                                 names[i]));
        }
        TestOutcome o;
        o.name = names[i];
        o.test = selected[i];
        const std::string verdict = e.at("verdict").get<std::string>();
        bool known = false;
        for (Verdict v : {Verdict::pass, Verdict::fail, Verdict::skip}) {
          if (to_string(v) == verdict) {
            o.verdict = v;
            known = true;
          }
        }
        if (!known) return bad(fmt::format("test '{}': unknown verdict '{}'", o.name, verdict));
        const std::string kind = e.at("fail_kind").get<std::string>();
        const auto* it = std::find(std::begin(kFailKinds), std::end(kFailKinds), kind);
        if (it == std::end(kFailKinds)) {
          return bad(fmt::format("test '{}': unknown fail_kind '{}'", o.name, kind));
        }
        o.fail_kind = static_cast<FailKind>(it - std::begin(kFailKinds));
        o.reason = e.at("reason").get<std::string>();
        o.command = e.at("command").get<std::string>();
        outcomes[i] = std::move(o);
      }
    } catch (const json::exception& e) {
      return bad(fmt::format("not a suite shard record: {}", e.what()));
    }
  }
  std::string missing;
  if (count) {
    for (unsigned k = 1; k <= *count; ++k) {
      if (shard_file[k].empty())
        missing += fmt::format("{}{}/{}", missing.empty() ? "" : ", ", k, *count);
    }
  }
  if (!missing.empty()) {
    return Error{fmt::format("error: suite --merge: missing shard{} {} (given {} of {})",
                             missing.find(',') == std::string::npos ? "" : "s", missing,
                             files.size(), *count)};
  }
  return outcomes;
}

}  // namespace

int suite_command(const SuiteCommand& cmd, const scenario::ScenarioRunner& runner,
                  std::ostream& out, std::ostream& err) {
  const bool junit_stdout = cmd.junit_out && *cmd.junit_out == "-";
  if (junit_stdout && cmd.tap) {
    err << "error: -t and --junit - both write to stdout; give --junit a file\n";
    return kExitBadUsage;
  }
  if (cmd.jobs == 0) {
    err << "error: -j needs at least 1\n";
    return kExitBadUsage;
  }

  TargetSet targets = TargetSet::builtin();
  if (cmd.targets_file) {
    if (auto st = targets.add_file(*cmd.targets_file); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
  }
  const std::string target_name = resolve_target_name(cmd.target, cmd.env_target);
  const Target* target = targets.find(target_name);
  if (target == nullptr) {
    const bool from_env = !cmd.target && cmd.env_target && !cmd.env_target->empty();
    err << fmt::format("error: {}unknown target '{}' (targets: {})\n",
                       from_env ? fmt::format("{}={}: ", kTargetEnvVar, target_name) : "",
                       target_name, targets.names());
    return kExitBadInput;
  }

  SuiteRunOptions options;
  options.target = target;
  options.groups = cmd.groups;
  options.tests = cmd.tests;
  options.jobs = cmd.jobs;
  if (cmd.env_timeout && !cmd.env_timeout->empty()) {
    auto d = parse_duration(*cmd.env_timeout);
    if (!d) {
      err << fmt::format(
          "error: {}={}: not a duration (seconds, or N with s, m, h, d; 0 = no limit)\n",
          kTimeoutEnvVar, *cmd.env_timeout);
      return kExitBadInput;
    }
    options.default_timeout = *d;
  }

  auto suite = load_suite_file(cmd.file, targets);
  if (!suite) {
    err << suite.error().message << '\n';
    return kExitBadInput;
  }
  auto selected = select_tests(*suite, options);
  if (!selected) {
    err << selected.error().message << '\n';
    return kExitBadUsage;
  }

  // --shard: the tests i (counted from 0 in the selection) with i mod N = K - 1.
  std::optional<ShardArg> shard;
  if (cmd.shard) {
    auto s = parse_shard(*cmd.shard);
    if (!s) {
      err << s.error().message << '\n';
      return kExitBadUsage;
    }
    shard = *s;
  } else if (cmd.shard_out) {
    err << "error: --shard-out records a shard: give --shard K/N too\n";
    return kExitBadUsage;
  }
  std::vector<std::size_t> mine;
  std::vector<const SuiteTest*> to_run;
  for (std::size_t i = 0; i < selected->size(); ++i) {
    if (shard && i % shard->count != shard->index - 1) continue;
    mine.push_back(i);
    to_run.push_back((*selected)[i]);
  }

  // The JUnit file is opened now and replaced only once it is written whole.
  OutputFiles files(out);
  files.add_input("suite file", cmd.file);
  if (cmd.targets_file) files.add_input("targets file", *cmd.targets_file);
  for (const auto& m : cmd.merge)
    files.add_input("--merge record", m);
  std::optional<std::size_t> junit_file;
  if (cmd.junit_out) junit_file = files.add("--junit", *cmd.junit_out);
  // The shard's record is committed on its own: not after a signal.
  OutputFiles record_files(out);
  record_files.add_input("suite file", cmd.file);
  std::optional<std::size_t> record_file;
  if (cmd.shard_out) {
    if (cmd.junit_out && *cmd.junit_out == *cmd.shard_out) {
      err << fmt::format("error: --junit and --shard-out both name {}\n", *cmd.shard_out);
      return kExitBadUsage;
    }
    record_file = record_files.add("--shard-out", *cmd.shard_out);
  }
  if (auto st = files.open_all(); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }
  if (auto st = record_files.open_all(); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }
  options.interrupt = interrupt_flag();

  // With the XML on stdout, stdout has nothing else (as `run --json -`).
  std::ostream& report = junit_stdout ? err : out;
  auto write_one = [&](std::size_t i, const TestOutcome& o) {
    if (cmd.tap) {
      write_tap(report, i + 1, o, cmd.verbose);
    } else {
      write_plain(report, o, cmd.verbose);
    }
    report.flush();
  };
  std::vector<TestOutcome> outcomes;
  if (!cmd.merge.empty()) {
    // --merge: the shards' outcomes, reported as one run of the whole selection.
    auto merged = merge_records(cmd.merge, *target, *selected);
    if (!merged) {
      err << merged.error().message << '\n';
      return kExitBadInput;
    }
    outcomes = std::move(*merged);
    if (cmd.tap) write_tap_header(report, outcomes.size());
    for (std::size_t i = 0; i < outcomes.size(); ++i)
      write_one(i, outcomes[i]);
  } else {
    if (cmd.tap) write_tap_header(report, to_run.size());
    outcomes = run_suite(*suite, to_run, options, runner, write_one);
  }

  const int sig = *options.interrupt;
  if (record_file && sig == 0) {
    record_files.stream(*record_file)
        << shard_record(cmd, *target, *selected, *shard, mine, outcomes);
    if (auto st = record_files.commit(); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
  }
  if (sig != 0 && cmd.tap) report << "Bail out! interrupted by a signal\n";
  if (junit_file) files.stream(*junit_file) << junit_xml(*suite, *target, outcomes);
  if (auto st = files.commit(); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }
  if (auto st = check_stdout(out); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }
  if (sig != 0) {
    err << fmt::format("fredsim: stopped by {}; {} of {} tests ran to their end\n",
                       sig == SIGINT    ? "SIGINT"
                       : sig == SIGTERM ? "SIGTERM"
                                        : "a signal",
                       outcomes.size(), selected->size());
    return 128 + sig;
  }
  for (const auto& o : outcomes) {
    if (o.verdict == Verdict::fail) return kExitFailed;
  }
  return kExitPassed;
}

Subcommand add_suite_subcommand(CLI::App& app, const CliContext& ctx) {
  auto state = std::make_shared<SuiteCommand>();
  SuiteCommand& suite = *state;
  CLI::App* suite_cmd = app.add_subcommand(
      "suite",
      "Run a suite of scenarios (a unittests.cfg) under a machine target: PASS, FAIL or SKIP "
      "per test, as kvm-unit-tests' run_tests.sh");
  suite_cmd->footer(
      "Example:\n"
      "  fredsim suite scenarios/unittests.cfg --target idt\n"
      "Environment:\n"
      "  FREDSIM_TARGET   the target when --target is not given (default fred-nmisrc)\n"
      "  FREDSIM_TIMEOUT  the timeout of a test without its own (default: none)\n"
      "Exit status: 0 no test failed, 1 a test failed, 2 bad input or usage. "
      "Format, targets and disabled_if: docs/suites.md");
  suite_cmd->add_option("FILE", suite.file, "The suite: a unittests.cfg (docs/suites.md)")
      ->required();
  suite_cmd->add_option("TEST", suite.tests, "Run only these tests (by [name]; default: all)");
  suite_cmd
      ->add_option("--target", suite.target,
                   "The machine target: idt, fred, fred-nmisrc or one of --targets (default: "
                   "$FREDSIM_TARGET, else fred-nmisrc)")
      ->type_name("NAME");
  suite_cmd
      ->add_option("--targets", suite.targets_file,
                   "Define more targets from FILE ([name] sections with set = KEY=VALUE ...)")
      ->type_name("FILE");
  suite_cmd
      ->add_option("-g,--group", suite.groups,
                   "Run only the tests of GROUP (repeatable, or comma-separated); a test in "
                   "group nodefault runs only when selected by group or name")
      ->type_name("GROUP")
      ->delimiter(',')
      ->allow_extra_args(false);
  suite_cmd
      ->add_option("-j,--jobs", suite.jobs,
                   "Run N tests at once; the report keeps the cfg's order (default 1)")
      ->type_name("N")
      ->check(CLI::Range(1u, 1024u));
  suite_cmd->add_flag("-v,--verbose", suite.verbose,
                      "Show the equivalent 'fredsim run FILE --set ...' line of each test run");
  suite_cmd->add_flag("-t,--tap", suite.tap, "Write the report as TAP version 13");
  CLI::Option* shard_opt =
      suite_cmd
          ->add_option("--shard", suite.shard,
                       "Run only shard K of N of the selected tests (tests K, K+N, K+2N, ... "
                       "counted from 1); the report covers them (docs/scaling.md)")
          ->type_name("K/N");
  suite_cmd
      ->add_option("--shard-out", suite.shard_out,
                   "With --shard: also write this shard's outcomes to FILE for --merge")
      ->type_name("FILE");
  CLI::Option* merge_opt =
      suite_cmd
          ->add_option("--merge", suite.merge,
                       "Run nothing: report the shards' --shard-out records as one run of the "
                       "selection (the same FILE, TESTs, -g and target as the shards)")
          ->type_name("RECORD...");
  merge_opt->excludes(shard_opt);
  suite_cmd
      ->add_option("--junit", suite.junit_out,
                   "Also write a JUnit XML report to OUT; '-' writes it to stdout and nothing "
                   "else there (the report then goes to stderr)")
      ->type_name("OUT");

  return {suite_cmd, [state, &ctx] {
            // Read here, once, before any thread starts.
            if (const char* t = std::getenv(std::string(kTargetEnvVar).c_str()))
              state->env_target = t;
            if (const char* t = std::getenv(std::string(kTimeoutEnvVar).c_str()))
              state->env_timeout = t;
            return suite_command(*state, ctx.runner, ctx.out, ctx.err);
          }};
}

}  // namespace fredsim::cli
