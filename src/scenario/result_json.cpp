// The result JSON of docs/format.md "Result JSON".
#include <nlohmann/json.hpp>

#include "fredsim/scenario/report.hpp"

namespace fredsim::scenario {
namespace {

using nlohmann::ordered_json;

ordered_json cpu_json(CpuId cpu) {
  if (cpu == kNoCpu) return nullptr;
  return cpu;
}

ordered_json summary_json(const Summary& s) {
  return ordered_json{{"count", s.count}, {"mean", s.mean}, {"p50", s.p50},
                      {"p99", s.p99},     {"min", s.min},   {"max", s.max}};
}

ordered_json handlers_json(const std::vector<HandlerResult>& hs) {
  ordered_json handlers = ordered_json::array();
  for (const auto& h : hs) {
    ordered_json per_cpu = ordered_json::array();
    for (std::size_t i = 0; i < h.per_cpu.size(); ++i) {
      const auto& c = h.per_cpu[i];
      if (c.calls == 0 && c.handled == 0) continue;
      per_cpu.push_back(ordered_json{{"cpu", i}, {"calls", c.calls}, {"handled", c.handled}});
    }
    handlers.push_back(ordered_json{{"name", h.name},
                                    {"type", to_string(h.type)},
                                    {"vector", h.vector},
                                    {"calls", h.calls},
                                    {"handled", h.handled},
                                    {"cycles", h.cycles},
                                    {"per_cpu", std::move(per_cpu)}});
  }
  return handlers;
}

ordered_json console_json(const std::vector<ConsoleLine>& lines) {
  ordered_json console = ordered_json::array();
  for (const auto& l : lines) {
    console.push_back(ordered_json{{"cycle", l.cycle}, {"cpu", cpu_json(l.cpu)}, {"text", l.text}});
  }
  return console;
}

ordered_json panic_json(const std::optional<PanicRecord>& p) {
  if (!p) return nullptr;
  return ordered_json{{"cycle", p->cycle}, {"cpu", cpu_json(p->cpu)}, {"message", p->message}};
}

ordered_json vms_json(const std::vector<VmResult>& vms) {
  ordered_json out = ordered_json::array();
  for (const auto& vm : vms) {
    ordered_json vcpus = ordered_json::array();
    for (const auto& v : vm.vcpus) {
      // The counters in table order, grouped as the host CPUs' (result_json below).
      ordered_json vj{{"id", v.id}, {"host_cpu", v.host_cpu}};
      for (const VcpuCounter& counter : vcpu_counters()) {
        const std::string name(counter.name);
        if (counter.group.empty()) {
          vj[name] = counter.get(v);
        } else {
          vj[std::string(counter.group)][name] = counter.get(v);
        }
      }
      vcpus.push_back(std::move(vj));
    }
    out.push_back(ordered_json{{"name", vm.name},
                               {"vcpus", std::move(vcpus)},
                               {"handlers", handlers_json(vm.handlers)},
                               {"console", console_json(vm.console)},
                               {"panic", panic_json(vm.panic)}});
  }
  return out;
}

ordered_json result_json(const ScenarioResult& r) {
  ordered_json j;
  j["scenario"] = r.scenario;
  j["config"] = ordered_json{{"cpus", r.config.cpus},
                             {"delivery", to_string(r.config.delivery)},
                             {"nmi_source", r.config.nmi_source},
                             {"apic", to_string(r.config.apic)},
                             {"kernel", to_string(r.config.kernel)},
                             {"timing", r.config.timing},
                             {"frequency_mhz", r.config.frequency_mhz},
                             {"seed", r.config.seed}};
  j["end_cycle"] = r.end_cycle;
  // Only in a run cut short, so a complete run's JSON is as it always was.
  if (r.stopped != StopReason::none) {
    j["stopped"] = to_string(r.stopped);
    if (r.stopped == StopReason::interrupted) j["interrupted"] = true;
  }
  auto& cpus = j["cpus"] = ordered_json::array();
  for (const auto& c : r.cpus) {
    // The counters in table order; a grouped one goes into its object, made
    // where the group's first counter comes (ordered_json keeps that order).
    ordered_json cj{{"id", c.id}};
    for (const CpuCounter& counter : cpu_counters()) {
      if (counter.shown != nullptr && !counter.shown(c)) continue;
      const std::string name(counter.name);
      if (counter.group.empty()) {
        cj[name] = counter.get(c);
      } else {
        cj[std::string(counter.group)][name] = counter.get(c);
      }
    }
    cpus.push_back(std::move(cj));
  }
  j["handlers"] = handlers_json(r.handlers);
  j["dispatch"] = summary_json(r.dispatch_samples.summary());
  j["console"] = console_json(r.console);
  j["panic"] = panic_json(r.panic);
  // Only with [[vm]], so every other result is as it was.
  if (!r.vms.empty()) j["vms"] = vms_json(r.vms);
  auto& ex = j["expectations"] = ordered_json::array();
  for (const auto& e : r.expectations) {
    ex.push_back(ordered_json{
        {"text", e.text}, {"passed", e.passed}, {"actual", e.actual}, {"expected", e.expected}});
  }
  j["passed"] = r.passed;
  return j;
}

// Strings in a result come from the scenario file (names) and the kernel model;
// replace invalid UTF-8 instead of failing.
std::string dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace

std::string to_json(const ScenarioResult& result) {
  return dump(result_json(result));
}

std::string compare_json(const ScenarioResult& bitmap, const ScenarioResult& polling) {
  ordered_json j;
  j["bitmap"] = result_json(bitmap);
  j["polling"] = result_json(polling);
  return dump(j);
}

}  // namespace fredsim::scenario
