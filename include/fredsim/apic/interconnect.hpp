#pragma once
// The interconnect between local APICs (docs/hardware.md §3 "Local APIC"): an ICR write resolves
// its destinations and posts one message per destination, arriving after ipi_latency
// (+ ipi_per_destination x its index) cycles. NMI-mode messages carry the ICR
// vector field to the destination's NmiSink as the NMI-source vector.
//
// It owns the local APICs of a System. Each arrival is one queue event whose target
// is the destination LocalApic (so step() names the receiving CPU) with the delivery
// mode and vector packed into the event argument: no message storage at all, and a
// broadcast allocates nothing once the queue has reached its working size.
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "fredsim/apic/icr.hpp"
#include "fredsim/apic/local_apic.hpp"
#include "fredsim/sim/context.hpp"
#include "fredsim/sim/result.hpp"

namespace fredsim::apic {

struct InterconnectConfig {
  std::uint32_t cpus = 1;
  /// Mode of every APIC at start. xAPIC addresses at most 255 CPUs (kXapicMaxCpus).
  ApicMode mode = ApicMode::x2apic;
  /// APIC ID of each CPU; empty means apic_id == CPU index.
  std::vector<std::uint32_t> apic_ids;
  /// SVR.APIC_ENABLED at start: true is the state an OS leaves after boot, false the
  /// hardware reset state (every LVT stays masked until SVR enables the APIC).
  bool software_enabled = true;
};

struct InterconnectCounters {
  std::uint64_t sends = 0;            // ICR writes that reached the interconnect
  std::uint64_t messages_posted = 0;  // one per destination
  std::array<std::uint64_t, kDeliveryModeCount> posted_by_mode{};
  std::uint64_t dropped_no_destination = 0;  // sends whose destination named no CPU
};

class Interconnect {
 public:
  /// Builds the APICs. Errors: no CPU, xAPIC with more than 255 CPUs, a wrong
  /// number of APIC IDs, a duplicate ID, an ID that is the broadcast ID of the mode.
  static Result<std::unique_ptr<Interconnect>> create(SimContext ctx,
                                                      const InterconnectConfig& config);

  Interconnect(const Interconnect&) = delete;
  Interconnect& operator=(const Interconnect&) = delete;

  std::uint32_t size() const { return static_cast<std::uint32_t>(apics_.size()); }
  LocalApic& apic(CpuId cpu) { return *apics_[cpu]; }
  const LocalApic& apic(CpuId cpu) const { return *apics_[cpu]; }
  void bind_nmi_sink(CpuId cpu, NmiSink& sink) { apics_[cpu]->bind_nmi_sink(&sink); }

  /// The CPU whose APIC has this ID, or kNoCpu.
  CpuId cpu_of_apic_id(std::uint32_t apic_id) const {
    if (identity_ids_) return apic_id < cpu_count_ ? apic_id : kNoCpu;
    return search_apic_id(apic_id);
  }

  /// Sends `icr` from `sender`'s APIC as an ICR write does (LocalApic calls this
  /// after its own checks): resolves the destinations in the sender's mode, traces
  /// ipi_send and posts the messages. Returns the number of messages posted.
  std::uint32_t send(CpuId sender, IcrValue icr);
  /// send() `count` times in a row (the same ICR written over and over at one
  /// cycle); returns the messages posted by all of them.
  std::uint64_t send(CpuId sender, IcrValue icr, std::uint32_t count);

  /// The destinations of the last send(), in posting order.
  std::span<const CpuId> last_destinations() const { return dest_; }

  const InterconnectCounters& counters() const { return counters_; }
  void reset_counters() { counters_ = {}; }

 private:
  Interconnect(SimContext ctx, const InterconnectConfig& config);
  bool send_unicast(CpuId sender, IcrValue icr, std::uint32_t count, std::uint32_t& posted);
  std::uint32_t send_resolved(CpuId sender, IcrValue icr);  // send() but its unicast
  void resolve(const LocalApic& sender, IcrValue icr);
  void add_all(CpuId except);
  CpuId search_apic_id(std::uint32_t apic_id) const;

  SimContext ctx_;
  std::deque<LocalApic> storage_;  // stable addresses: the queue holds them as targets
  // storage_'s APICs by CPU: one load per lookup on every send and arrival, where
  // a deque index is a division into its blocks and two loads.
  std::vector<LocalApic*> apics_;
  bool identity_ids_ = true;
  std::uint32_t cpu_count_ = 0;                              // apics_.size()
  std::vector<std::pair<std::uint32_t, CpuId>> by_apic_id_;  // sorted; when not identity
  std::vector<CpuId> dest_;                                  // reused by every send
  InterconnectCounters counters_;
};

}  // namespace fredsim::apic
