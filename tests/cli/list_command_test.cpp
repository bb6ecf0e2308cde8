// `fredsim list`, `fredsim completion bash` and every subcommand's --help.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli_util.hpp"
#include "fredsim/scenario/loader.hpp"
#include "fredsim/sim/timing_profile.hpp"
#include "fredsim/suite/targets.hpp"

namespace fredsim::cli {
namespace {

using namespace fredsim::scenario;

/// The comma-separated names after "(allowed: " in a loader message.
std::vector<std::string> allowed_list(const std::string& message) {
  std::vector<std::string> out;
  const auto at = message.find("(allowed: ");
  if (at == std::string::npos) return out;
  const auto end = message.find(')', at);
  std::istringstream in(message.substr(at + 10, end - at - 10));
  for (std::string w; std::getline(in, w, ',');) {
    if (!w.empty() && w.front() == ' ') w.erase(0, 1);
    out.push_back(w);
  }
  return out;
}

/// The quoted names after "is not one of " in a loader message.
std::vector<std::string> one_of_list(const std::string& message) {
  std::vector<std::string> out;
  const auto at = message.find("is not one of ");
  if (at == std::string::npos) return out;
  static const std::regex quoted("\"([^\"]*)\"");
  const std::string rest = message.substr(at);
  for (auto it = std::sregex_iterator(rest.begin(), rest.end(), quoted);
       it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

std::string load_message(const std::string& toml) {
  auto r = load_scenario_string(toml, "t.toml");
  return r.ok() ? std::string() : r.error().message;
}

/// The line of `text` that starts with "  NAME " (a row of a list).
std::string row(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  " + name + " ", 0) == 0) return line;
  }
  return {};
}

// Every event type the loader accepts: the list its own error for an unknown
// type gives. Each has a row, and the row's keys are the loader's "allowed:" list
// for that type (less at and type).
TEST(List, EventsAreTheLoadersTypesWithTheirKeys) {
  auto r = test::run_cli({"list", "events"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto types =
      one_of_list(load_message("name = \"x\"\n[[event]]\nat = 1\ntype = \"no-such-type\"\n"));
  ASSERT_GE(types.size(), 13u) << "the loader's message changed form";
  for (const auto& type : types) {
    const std::string line = row(r.out, type);
    ASSERT_FALSE(line.empty()) << type << " missing from\n" << r.out;
    auto keys = allowed_list(
        load_message("name = \"x\"\n[[event]]\ntype = \"" + type + "\"\nno_such_key = 1\n"));
    ASSERT_GE(keys.size(), 2u) << type;
    EXPECT_EQ(keys[0], "at");
    EXPECT_EQ(keys[1], "type");
    std::string expected;
    for (std::size_t i = 2; i < keys.size(); ++i)
      expected += (i > 2 ? ", " : "") + keys[i];
    std::string listed = line.substr(line.find_first_not_of(' ', 2 + type.size()));
    EXPECT_EQ(listed, expected) << type;
  }
}

TEST(List, ModelsAreTheOnesAHandlerMayName) {
  auto r = test::run_cli({"list", "models"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto models = one_of_list(
      load_message("name = \"x\"\n[[handler]]\nname = \"h\"\nmodel = \"no-such-model\"\n"));
  ASSERT_GE(models.size(), 8u);
  for (const auto& m : models)
    EXPECT_NE(r.out.find("\n  " + m + "\n"), std::string::npos) << m << "\n" << r.out;
  const auto types = one_of_list(
      load_message("name = \"x\"\n[[handler]]\nname = \"h\"\ntype = \"no-such-type\"\n"));
  ASSERT_EQ(types.size(), 4u);
  for (const auto& t : types)
    EXPECT_NE(r.out.find(t), std::string::npos) << t;
}

TEST(List, TimingHasEveryParameterWithItsDefaultAndSource) {
  auto r = test::run_cli({"list", "timing"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const TimingParamInfo& p : timing_params()) {
    const std::string line = row(r.out, std::string(p.name));
    ASSERT_FALSE(line.empty()) << p.name;
    if (p.param == TimingParam::core_mhz) {
      EXPECT_NE(line.find("system.frequency_mhz"), std::string::npos) << line;
      EXPECT_NE(line.find(std::to_string(SystemSpec{}.frequency_mhz)), std::string::npos);
      continue;
    }
    EXPECT_NE(line.find(" " + std::to_string(p.default_cycles) + "  "), std::string::npos) << line;
    EXPECT_NE(line.find(std::string(p.source)), std::string::npos) << line;
  }
}

// Issue 20: a researcher must see which costs are measured. Every default's row
// says what it rests on, and every named profile lists each cost it sets with
// its value, basis and source, in its own block after the defaults.
TEST(List, TimingSaysWhatEachCostRestsOnAndPrintsTheNamedProfiles) {
  auto r = test::run_cli({"list", "timing"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const TimingParamInfo& p : timing_params()) {
    const std::string line = row(r.out, std::string(p.name));
    EXPECT_NE(line.find("  " + std::string(to_string(p.basis)) + " "), std::string::npos) << line;
  }
  const std::size_t profiles = r.out.find("\nnamed profiles");
  ASSERT_NE(profiles, std::string::npos) << r.out;
  ASSERT_GE(timing_profiles().size(), 2u);
  for (const NamedTimingProfile& profile : timing_profiles()) {
    const std::size_t head = r.out.find("\n  " + std::string(profile.name) + ": ", profiles);
    ASSERT_NE(head, std::string::npos) << profile.name;
    // The block: the lines indented by four after the profile's own line.
    std::size_t end = head + 1;
    while (true) {
      const std::size_t nl = r.out.find('\n', end);
      if (nl == std::string::npos || r.out.compare(nl, 5, "\n    ") != 0) {
        end = nl == std::string::npos ? r.out.size() : nl;
        break;
      }
      end = nl + 1;
    }
    const std::string block = r.out.substr(head, end - head);
    for (const ProfileCost& c : profile.costs) {
      const std::string line = row(block, "  " + std::string(timing_param_name(c.param)));
      ASSERT_FALSE(line.empty()) << profile.name << " lacks " << timing_param_name(c.param);
      EXPECT_NE(line.find(" " + std::to_string(c.cycles) + "  "), std::string::npos) << line;
      EXPECT_NE(line.find("  " + std::string(to_string(c.basis)) + " "), std::string::npos) << line;
      EXPECT_NE(line.find(std::string(c.source)), std::string::npos) << line;
    }
  }
}

TEST(List, TargetsAreTheBuiltInOnes) {
  auto r = test::run_cli({"list", "targets"});
  ASSERT_EQ(r.code, 0) << r.err;
  const suite::TargetSet targets = suite::TargetSet::builtin();
  for (const auto& t : targets.all()) {
    const std::string line = row(r.out, t.name);
    ASSERT_FALSE(line.empty()) << t.name;
    for (const auto& s : t.sets)
      EXPECT_NE(line.find(s), std::string::npos) << line;
  }
}

TEST(List, AllHasEverySectionAndAWrongKindIsBadUsage) {
  auto all = test::run_cli({"list"});
  ASSERT_EQ(all.code, 0) << all.err;
  for (const char* kind : {"models", "events", "timing", "targets"}) {
    auto one = test::run_cli({"list", kind});
    ASSERT_EQ(one.code, 0);
    EXPECT_NE(all.out.find(one.out), std::string::npos) << kind;
  }
  EXPECT_EQ(test::run_cli({"list", "all"}).out, all.out);
  auto bad = test::run_cli({"list", "handlers"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("handlers"), std::string::npos) << bad.err;
}

/// The subcommands `fredsim --help` lists.
std::vector<std::string> subcommands() {
  auto r = test::run_cli({"--help"});
  std::vector<std::string> out;
  const auto at = r.out.find("Subcommands:");
  std::istringstream in(r.out.substr(at == std::string::npos ? r.out.size() : at));
  std::string line;
  std::getline(in, line);
  static const std::regex name("^  ([a-z]+) ");
  for (std::smatch m; std::getline(in, line);) {
    if (std::regex_search(line, m, name)) out.push_back(m[1].str());
  }
  return out;
}

TEST(Help, EverySubcommandHasAnExample) {
  const auto subs = subcommands();
  ASSERT_GE(subs.size(), 7u);
  for (const auto& s : subs) {
    auto r = test::run_cli({s, "--help"});
    EXPECT_EQ(r.code, 0) << s;
    const auto ex = r.out.find("Example:\n  ");
    ASSERT_NE(ex, std::string::npos) << s << ":\n" << r.out;
    EXPECT_NE(r.out.find(s, ex), std::string::npos) << s;
  }
}

TEST(Completion, TheBashScriptListsEverySubcommandAndItsOptions) {
  auto r = test::run_cli({"completion", "bash"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("local subcommands=\"([^\"]*)\"")));
  const std::string listed = " " + m[1].str() + " ";
  for (const auto& s : subcommands()) {
    EXPECT_NE(listed.find(" " + s + " "), std::string::npos) << s;
    EXPECT_NE(r.out.find("    " + s + ") opts=\""), std::string::npos) << s;
  }
  EXPECT_NE(r.out.find(" --json --trace --trace-out --chrome-trace --ftrace --set "),
            std::string::npos)
      << r.out;
  EXPECT_EQ(test::run_cli({"completion", "zsh"}).code, 2);
}

/// What bash completes for the words `line` (the last one being completed).
std::string complete(const std::string& script, const std::string& line) {
  const std::string cmd = "bash -c 'source \"$0\"; COMP_WORDS=(" + line +
                          "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _fredsim; echo "
                          "\"${COMPREPLY[*]}\"' " +
                          script;
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p) != nullptr)
      out += buf;
    pclose(p);
  }
  return out;
}

TEST(Completion, BashCompletesSubcommandsOptionsAndListKinds) {
  if (std::system("bash -c true") != 0) GTEST_SKIP() << "no bash";
  test::TempDir dir;
  const std::string script = dir.write("fredsim.bash", test::run_cli({"completion", "bash"}).out);
  EXPECT_EQ(complete(script, "fredsim co"), "compare completion\n");
  EXPECT_EQ(complete(script, "fredsim li"), "list\n");
  EXPECT_EQ(complete(script, "fredsim run x.toml --ft"), "--ftrace\n");
  EXPECT_EQ(complete(script, "fredsim list ev"), "events\n");
}

}  // namespace
}  // namespace fredsim::cli
