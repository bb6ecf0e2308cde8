// libFuzzer target: the scenario loader must return a value or an Error for any
// input, never crash, hang or throw. Leading lines "--set KEY=VALUE" become
// overrides, so the override path is fuzzed too; what loads is also turned into
// a result and JSON, the path every run takes after loading.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/runner.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<fredsim::scenario::Override> overrides;
  constexpr std::string_view kSet = "--set ";
  while (text.starts_with(kSet) && overrides.size() < 8) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) break;
    overrides.push_back({std::string(text.substr(kSet.size(), nl - kSet.size()))});
    text.remove_prefix(nl + 1);
  }
  auto spec = fredsim::scenario::load_scenario_string(text, "fuzz.toml", overrides);
  if (!spec) {
    // Every error is in the contract's form.
    const std::string& m = spec.error().message;
    if (m.find("error: ") == std::string::npos) __builtin_trap();
    return 0;
  }
  fredsim::scenario::ScenarioResult r = fredsim::scenario::empty_result(*spec);
  fredsim::scenario::apply_expectations(*spec, r);
  (void)fredsim::scenario::to_json(r);
  return 0;
}
