// `fredsim sweep` in-process: the files it writes, an emitted cell run on its own,
// and the lists it refuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "exit_codes.hpp"
#include "fredsim/scenario/system_runner.hpp"

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
