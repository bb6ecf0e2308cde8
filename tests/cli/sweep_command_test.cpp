// `fredsim sweep` in-process: the files it writes, an emitted cell run on its own,
// and the lists it refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "cli_util.hpp"
#include "exit_codes.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/suite/cfg.hpp"

namespace fredsim::cli {
namespace {

using scenario::SystemRunner;

TEST(SweepCli, WritesTheFilesAndRefusesBadLists) {
  SystemRunner runner;
  const auto dir = std::filesystem::temp_directory_path() / "fredsim-sweep-test";
  std::filesystem::remove_all(dir);
  std::istringstream in;
  std::ostringstream out, err;
  int rc = cli_main(
      {"fredsim", "sweep", "--out", dir.string(), "--handlers", "1,8", "--mixes", "one", "--places",
       "bare", "--nmis", "10", "--plot", "none", "--emit-scenarios", (dir / "cells").string()},
      runner, in, out, err);
  EXPECT_EQ(rc, kExitPassed) << err.str();
  EXPECT_TRUE(std::filesystem::exists(dir / "sweep.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir / "sweep.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "sweep.png"));
  EXPECT_TRUE(std::filesystem::exists(dir / "cells" / "bare-one-fred-nmisrc-v7-8.toml"));
  // An emitted cell runs on its own to the sweep's figures.
  std::ostringstream run_out, run_err;
  rc = cli_main({"fredsim", "run", (dir / "cells" / "bare-one-fred-nmisrc-v7-8.toml").string(),
                 "--json", "-", "--quiet"},
                runner, in, run_out, run_err);
  EXPECT_EQ(rc, kExitPassed) << run_err.str();
  auto result = nlohmann::json::parse(run_out.str());
  EXPECT_EQ(result["cpus"][0]["nmi_delivered"], 10);
  EXPECT_NE(out.str().find("8 "), std::string::npos);

  for (auto bad : std::vector<std::vector<std::string>>{
           {"fredsim", "sweep", "--modes", "idt,warp"},
           {"fredsim", "sweep", "--nmis", "7", "--out", dir.string()},
           {"fredsim", "sweep", "--handlers", "x"},
           {"fredsim", "sweep", "--set", "system.cpus=4", "--out", dir.string()}}) {
    std::ostringstream o2, e2;
    EXPECT_EQ(cli_main(bad, runner, in, o2, e2), kExitBadUsage) << bad[2];
    EXPECT_FALSE(e2.str().empty());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fredsim::cli

namespace fredsim::cli {
namespace {

using test::read_file;
using test::run_cli;
using test::TempDir;

const std::vector<std::string> kSmall = {"--handlers", "1,3,8",         "--mixes", "one,two",
                                         "--modes",    "idt,fred",      "--nmis",  "10",
                                         "--set",      "system.seed=7", "--plot",  "none"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The three outputs of a whole run: stdout (paths taken out), sweep.csv, sweep.json.
std::vector<std::string> study_of(const test::CliOutcome& r, const std::string& dir) {
  std::string out = r.out;
  for (auto at = out.find(dir); at != std::string::npos; at = out.find(dir))
    out.replace(at, dir.size(), "DIR");
  return {out, read_file(dir + "/sweep.csv"), read_file(dir + "/sweep.json")};
}

TEST(SweepCli, AStudyWithoutAPointIsRefusedWithWhy) {
  // Both would write an empty study: a mix below its handler minimum, and the
  // vm place with only the mixes it does not take (a guest has no platform NMI).
  SystemRunner runner;
  const auto dir = std::filesystem::temp_directory_path() / "fredsim-sweep-empty-test";
  std::filesystem::remove_all(dir);
  std::istringstream in;
  for (const auto& [args, why] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"fredsim", "sweep", "--handlers", "1", "--mixes", "two", "--places", "bare"},
            "error: sweep: --mixes two needs at least 3 LOCAL handlers; --handlers 1 gives it no "
            "point (add a count of 3 or more)\n"},
           {{"fredsim", "sweep", "--mixes", "two,external10", "--places", "bare,vm"},
            "error: sweep: --places vm takes the mixes one and unsourced10 only (a VM's guest has "
            "no platform NMI); --mixes two,external10 gives it no point\n"}}) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--out", dir.string(), "--nmis", "10", "--plot", "none"});
    std::ostringstream out, err;
    EXPECT_EQ(cli_main(full, runner, in, out, err), kExitBadUsage) << err.str();
    EXPECT_EQ(err.str(), why);
    EXPECT_FALSE(std::filesystem::exists(dir / "sweep.csv")) << "nothing written";
  }
  std::filesystem::remove_all(dir);
}

TEST(SweepCliParallel, JobsWriteTheSameBytes) {
  TempDir t;
  auto one = run_cli(with({"sweep", "--out", t.path("one"), "-j", "1"}, kSmall));
  ASSERT_EQ(one.code, 0) << one.err;
  for (const char* jobs : {"2", "5"}) {
    const std::string dir = t.path(std::string("j") + jobs);
    auto many = run_cli(with({"sweep", "--out", dir, "-j", jobs}, kSmall));
    ASSERT_EQ(many.code, 0) << many.err;
    EXPECT_EQ(study_of(many, dir), study_of(one, t.path("one"))) << "-j " << jobs;
  }
  auto zero = run_cli(with({"sweep", "--out", t.path("z"), "-j", "0"}, kSmall));
  EXPECT_EQ(zero.code, 2);
  EXPECT_NE(zero.err.find("-j"), std::string::npos) << zero.err;
}

TEST(SweepCliShard, BadShardsAreRefused) {
  TempDir t;
  const std::map<std::string, std::string> bad = {
      {"0/3", "error: --shard 0/3: K counts from 1 (1..3)\n"},
      {"4/3", "error: --shard 4/3: K is past N: there are 3 shards, 1..3\n"},
      {"1/0", "error: --shard 1/0: N, the number of shards, must be at least 1\n"},
      {"x", "error: --shard x: give K/N, shard K of N with 1 <= K <= N (e.g. --shard 2/3)\n"},
      {"1/", "error: --shard 1/: give K/N, shard K of N with 1 <= K <= N (e.g. --shard 2/3)\n"},
      {"-1/3", "error: --shard -1/3: give K/N, shard K of N with 1 <= K <= N (e.g. --shard 2/3)\n"},
      {"1/3/4",
       "error: --shard 1/3/4: give K/N, shard K of N with 1 <= K <= N (e.g. --shard 2/3)\n"},
  };
  for (const auto& [shard, message] : bad) {
    auto r = run_cli(with({"sweep", "--out", t.path("s"), "--shard", shard}, kSmall));
    EXPECT_EQ(r.code, 2) << shard;
    EXPECT_EQ(r.err, message);
    EXPECT_FALSE(std::filesystem::exists(t.path("s") + "/sweep.shard.json"));
  }
  // The suite reads K/N the same way.
  TempDir s;
  std::ofstream(s.path("u.cfg")) << "[a]\nfile = a.flat\n";
  auto r = run_cli({"suite", s.path("u.cfg"), "--shard", "4/3"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "error: --shard 4/3: K is past N: there are 3 shards, 1..3\n");
}

TEST(SweepCliShard, MergedShardsAreTheWholeRun) {
  TempDir t;
  const std::string whole = t.path("whole");
  auto w = run_cli(with({"sweep", "--out", whole, "-j", "1"}, kSmall));
  ASSERT_EQ(w.code, 0) << w.err;
  std::vector<std::string> merge = {"sweep", "--plot",         "none",
                                    "--out", t.path("merged"), "--merge"};
  for (const char* k : {"3", "1", "2"}) {  // any order
    const std::string dir = t.path(std::string("shard") + k);
    auto r = run_cli(with({"sweep", "--out", dir, "--shard", std::string(k) + "/3", "-q"}, kSmall));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("(shard " + std::string(k) + "/3: "), std::string::npos) << r.out;
    EXPECT_FALSE(std::filesystem::exists(dir + "/sweep.csv"));
    merge.push_back(dir);
  }
  auto m = run_cli(merge);
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_EQ(study_of(m, t.path("merged")), study_of(w, whole));

  // A shard of another sweep, a missing shard, and cell options with --merge.
  std::vector<std::string> more = kSmall;
  *std::find(more.begin(), more.end(), "10") = "20";  // --nmis 20
  auto other = run_cli(with({"sweep", "--out", t.path("other"), "--shard", "2/3"}, more));
  ASSERT_EQ(other.code, 0) << other.err;
  auto mixed = run_cli({"sweep", "--out", t.path("m2"), "--merge", t.path("shard1"),
                        t.path("other"), t.path("shard3")});
  EXPECT_EQ(mixed.code, 2);
  EXPECT_EQ(mixed.err, "error: sweep --merge: " + t.path("shard1") + "/sweep.shard.json and " +
                           t.path("other") +
                           "/sweep.shard.json are shards of different sweeps: nmis is 10 in one, "
                           "20 in the other\n");
  EXPECT_FALSE(std::filesystem::exists(t.path("m2") + "/sweep.csv"));
  auto missing = run_cli({"sweep", "--out", t.path("m3"), "--merge", t.path("shard1"),
                          t.path("shard3") + "/sweep.shard.json"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(missing.err, "error: sweep --merge: missing shard 2/3 (given 2 of 3)\n");
  auto nofile = run_cli({"sweep", "--out", t.path("m4"), "--merge", t.path("nowhere")});
  EXPECT_EQ(nofile.code, 2);
  EXPECT_TRUE(nofile.err.starts_with("error: sweep --merge: cannot read " + t.path("nowhere")))
      << nofile.err;
  auto cell_opts = run_cli({"sweep", "--merge", t.path("shard1"), "--nmis", "10"});
  EXPECT_EQ(cell_opts.code, 2);
  EXPECT_NE(cell_opts.err.find("--merge"), std::string::npos) << cell_opts.err;
}

// Each line of --list is a command that runs alone; --merge of their directories
// is the whole run.
TEST(SweepCliList, EachCellsCommandMergesIntoTheWholeRun) {
  TempDir t;
  const std::string whole = t.path("whole");
  auto w = run_cli(with({"sweep", "--out", whole}, kSmall));
  ASSERT_EQ(w.code, 0) << w.err;
  auto list = run_cli(with({"sweep", "--out", t.path("cells"), "--list"}, kSmall));
  ASSERT_EQ(list.code, 0) << list.err;
  std::istringstream lines(list.out);
  std::vector<std::string> merge = {"sweep", "--plot",         "none",
                                    "--out", t.path("merged"), "--merge"};
  std::string line;
  std::size_t n = 0;
  while (std::getline(lines, line)) {
    auto words = suite::split_words(line);
    ASSERT_TRUE(words.has_value()) << line;
    ASSERT_GE(words->size(), 2u);
    EXPECT_EQ((*words)[0], "fredsim");
    words->erase(words->begin());
    auto r = run_cli(*words);
    ASSERT_EQ(r.code, 0) << line << "\n" << r.err;
    ++n;
    merge.push_back(t.path("cells") + "/cell-" + std::to_string(n));
  }
  EXPECT_EQ(n, 20u);  // 2 places x 2 modes x (3 handler counts for one, 2 for two)
  EXPECT_NE(list.out.find("--shard 20/20 "), std::string::npos);
  EXPECT_NE(list.out.find("--set system.seed=7"), std::string::npos);
  auto m = run_cli(merge);
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_EQ(study_of(m, t.path("merged")), study_of(w, whole));
  auto both = run_cli(with({"sweep", "--list", "--shard", "1/2"}, kSmall));
  EXPECT_EQ(both.code, 2);
}

}  // namespace
}  // namespace fredsim::cli
