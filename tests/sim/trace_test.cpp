#include "fredsim/sim/trace.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace fredsim {
namespace {

TEST(Trace, NoSinkMeansDisabled) {
  Tracer t;
  EXPECT_FALSE(t.enabled());
  MemoryTraceSink m;
  t.add_sink(m);
  EXPECT_TRUE(t.enabled());
  t.remove_sink(m);
  EXPECT_FALSE(t.enabled());
}

TEST(Trace, TextFormat) {
  Tracer t;
  MemoryTraceSink m;
  t.add_sink(m);
  t.emit(1000, 3, "nmi_receive",
         {{"vector", TraceValue::dec(4)},
          {"pending_bitmap", TraceValue::hex(0x10)},
          {"coalesced", TraceValue::boolean(false)}});
  ASSERT_EQ(m.lines().size(), 1u);
  EXPECT_EQ(m.lines()[0],
            "cycle=1000 cpu=3 nmi_receive vector=4 pending_bitmap=0x10 coalesced=false");
}

TEST(Trace, JsonLinesAreValidJsonWithHexStringsListsAndObjects) {
  std::ostringstream out;
  JsonlTraceSink sink(out);
  Tracer t;
  t.add_sink(sink);
  const CpuId dest[] = {1, 2, 5};
  const TraceField frame[] = {{"rip", TraceValue::hex(0xffffffff81000000ull)},
                              {"reserved", TraceValue::hex(0)}};
  t.emit(7, 0, "ipi_send",
         {{"icr", TraceValue::hex(0xc0404)},
          {"dest", TraceValue::cpu_list(dest)},
          {"frame", TraceValue::object(frame)},
          {"name", TraceValue::str("a\"b")},
          {"delta", TraceValue::sdec(-5)}});
  t.emit(8, kNoCpu, "platform", {});
  std::istringstream in(out.str());
  std::string line;
  std::getline(in, line);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["cycle"], 7);
  EXPECT_EQ(j["cpu"], 0);
  EXPECT_EQ(j["event"], "ipi_send");
  EXPECT_EQ(j["icr"], "0xc0404");
  EXPECT_EQ(j["dest"], nlohmann::json::array({1, 2, 5}));
  EXPECT_EQ(j["frame"]["rip"], "0xffffffff81000000");
  EXPECT_EQ(j["name"], "a\"b");
  EXPECT_EQ(j["delta"], -5);
  std::getline(in, line);
  auto k = nlohmann::json::parse(line);
  EXPECT_TRUE(k["cpu"].is_null());
}

}  // namespace
}  // namespace fredsim
