// Counting the trace records that trace expectations ask for.
#include "fredsim/scenario/trace_counts.hpp"

#include <algorithm>
#include <array>

namespace fredsim::scenario {
namespace {

using F = std::string_view;
// The fields of each record type as docs/format.md "Trace records" lists them
// (objects left out: a `where` compares plain values).
constexpr std::array<F, 2> kIpiSend{"icr", "dest"};
constexpr std::array<F, 3> kNmiReceive{"vector", "pending_bitmap", "coalesced"};
constexpr std::array<F, 5> kDeliver{"path", "vector", "event_data", "new_rsp", "csl"};
constexpr std::array<F, 6> kVmExit{"reason",    "name",      "exit_qualification",
                                   "intr_info", "guest_rip", "activity"};
// A guest kernel's records add `vm` and `vcpu` (docs/format.md "Guest records").
constexpr std::array<F, 8> kHandlerCall{"handler",  "type",          "returned", "cycles",
                                        "delta_ns", "source_bitmap", "vm",       "vcpu"};
constexpr std::array<F, 4> kNmiOutcome{"handled", "outcome", "vm", "vcpu"};
constexpr std::array<F, 2> kReturn{"via", "nmi_unblocked"};
constexpr std::array<F, 3> kVmEntry{"instruction", "injected", "guest_rip"};
constexpr std::array<F, 3> kVmEntryFail{"error", "reason", "what"};
constexpr std::array<F, 2> kFault{"fault", "what"};
constexpr std::array<F, 3> kPanic{"message", "vm", "vcpu"};
constexpr std::array<F, 3> kNmiDeferred{"shadow", "rip", "until"};
constexpr std::array<F, 1> kPmiDropped{"lvtpc"};
// Stopping the other CPUs (docs/format.md "Trace records": irq_take, smp_stop, cpu_stop).
constexpr std::array<F, 1> kIrqTake{"vector"};
constexpr std::array<F, 4> kSmpStop{"phase", "cpus", "vm", "vcpu"};
constexpr std::array<F, 3> kCpuStop{"via", "vm", "vcpu"};
// KVM's injection of a virtual NMI into a VM's vCPU (docs/vmx.md).
constexpr std::array<F, 3> kNmiInject{"vm", "vcpu", "event_data"};
// KVM's injection of a fixed interrupt of the emulated APIC (docs/vmx.md).
constexpr std::array<F, 3> kIrqInject{"vm", "vcpu", "vector"};
// KVM's emulated APIC sends a guest's IPI (docs/vmx.md).
constexpr std::array<F, 4> kKvmApicIpi{"vm", "vcpu", "icr", "dest"};

constexpr TraceEventFields kEvents[] = {
    {"ipi_send", kIpiSend},
    {"nmi_receive", kNmiReceive},
    {"nmi_deliver", kDeliver},
    {"event_deliver", kDeliver},
    {"vm_exit", kVmExit},
    {"handler_call", kHandlerCall},
    {"nmi_outcome", kNmiOutcome},
    {"nmi_return", kReturn},
    {"event_return", kReturn},
    {"vm_entry", kVmEntry},
    {"vm_entry_fail", kVmEntryFail},
    {"fault", kFault},
    {"panic", kPanic},
    {"nmi_deferred", kNmiDeferred},
    {"pmi_dropped", kPmiDropped},
    {"irq_take", kIrqTake},
    {"smp_stop", kSmpStop},
    {"cpu_stop", kCpuStop},
    {"nmi_inject", kNmiInject},
    {"irq_inject", kIrqInject},
    {"kvm_apic_ipi", kKvmApicIpi},
};

bool value_matches(const TraceWhere& w, const TraceValue& v) {
  switch (v.kind) {
    case TraceValue::Kind::u64:
    case TraceValue::Kind::i64:
    case TraceValue::Kind::hex:
      return w.number && *w.number == v.u;
    case TraceValue::Kind::boolean:
      return w.boolean && *w.boolean == (v.u != 0);
    case TraceValue::Kind::str:
      return w.text && *w.text == v.s;
    case TraceValue::Kind::cpu_list: {
      if (!w.list || w.list->size() != v.cpus.size()) return false;
      return std::all_of(v.cpus.begin(), v.cpus.end(), [&](CpuId c) {
        return std::binary_search(w.list->begin(), w.list->end(), std::uint64_t{c});
      });
    }
    case TraceValue::Kind::object:
      return false;
  }
  return false;
}

}  // namespace

std::span<const TraceEventFields> trace_event_fields() {
  return kEvents;
}

const TraceEventFields* find_trace_event(std::string_view event) {
  for (const auto& e : kEvents) {
    if (e.event == event) return &e;
  }
  return nullptr;
}

bool trace_matches(const ExpectSpec& e, const TraceRecord& r) {
  if (r.event != e.trace_event) return false;
  for (const TraceWhere& w : e.where) {
    if (w.field == "cpu") {
      if (r.cpu == kNoCpu || !w.number || *w.number != r.cpu) return false;
      continue;
    }
    const TraceField* f = r.find(w.field);
    if (!f || !value_matches(w, f->value)) return false;
  }
  return true;
}

TraceCountSink::TraceCountSink(const std::vector<ExpectSpec>& expects) {
  for (const ExpectSpec& e : expects) {
    if (e.kind != ExpectSpec::Kind::trace) continue;
    if (e.trace_slot >= matchers_.size()) matchers_.resize(e.trace_slot + 1, nullptr);
    if (!matchers_[e.trace_slot]) matchers_[e.trace_slot] = &e;
  }
  counts_.assign(matchers_.size(), 0);
}

void TraceCountSink::record(const TraceRecord& r) {
  for (std::size_t i = 0; i < matchers_.size(); ++i) {
    if (matchers_[i] && trace_matches(*matchers_[i], r)) ++counts_[i];
  }
}

}  // namespace fredsim::scenario
