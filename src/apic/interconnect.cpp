#include "fredsim/apic/interconnect.hpp"

#include <algorithm>
#include <string>

namespace fredsim::apic {

Result<std::unique_ptr<Interconnect>> Interconnect::create(SimContext ctx,
                                                           const InterconnectConfig& config) {
  if (config.cpus == 0) return Error{"apic: a system needs at least one CPU"};
  if (config.mode == ApicMode::disabled) {
    return Error{"apic: the initial mode must be xapic or x2apic"};
  }
  if (config.mode == ApicMode::xapic && config.cpus > kXapicMaxCpus) {
    return Error{"apic: xapic addresses at most " + std::to_string(kXapicMaxCpus) +
                 " CPUs (8-bit APIC IDs, 0xFF is broadcast), got " + std::to_string(config.cpus) +
                 "; use x2apic"};
  }
  if (!config.apic_ids.empty()) {
    if (config.apic_ids.size() != config.cpus) {
      return Error{"apic: " + std::to_string(config.apic_ids.size()) + " APIC IDs for " +
                   std::to_string(config.cpus) + " CPUs"};
    }
    const std::uint32_t broadcast =
        config.mode == ApicMode::xapic ? APIC_BROADCAST_ID : X2APIC_BROADCAST_ID;
    for (std::size_t i = 0; i < config.apic_ids.size(); ++i) {
      if (config.apic_ids[i] >= broadcast) {
        return Error{"apic: APIC ID " + std::to_string(config.apic_ids[i]) + " of CPU " +
                     std::to_string(i) + " is out of range for " +
                     std::string(apic_mode_name(config.mode)) + " (the broadcast ID is " +
                     std::to_string(broadcast) + ")"};
      }
    }
    std::vector<std::uint32_t> sorted = config.apic_ids;
    std::sort(sorted.begin(), sorted.end());
    if (auto dup = std::adjacent_find(sorted.begin(), sorted.end()); dup != sorted.end()) {
      return Error{"apic: APIC ID " + std::to_string(*dup) + " is given to two CPUs"};
    }
  }
  return std::unique_ptr<Interconnect>(new Interconnect(ctx, config));
}

Interconnect::Interconnect(SimContext ctx, const InterconnectConfig& config) : ctx_(ctx) {
  apics_.reserve(config.cpus);
  for (std::uint32_t cpu = 0; cpu < config.cpus; ++cpu) {
    const std::uint32_t id = config.apic_ids.empty() ? cpu : config.apic_ids[cpu];
    if (id != cpu) identity_ids_ = false;
    apics_.push_back(&storage_.emplace_back(LocalApic::Key{}, *this, ctx, cpu, id, config.mode,
                                            config.software_enabled));
  }
  cpu_count_ = config.cpus;
  if (!identity_ids_) {
    by_apic_id_.reserve(config.cpus);
    for (std::uint32_t cpu = 0; cpu < config.cpus; ++cpu) {
      by_apic_id_.emplace_back(apics_[cpu]->apic_id(), cpu);
    }
    std::sort(by_apic_id_.begin(), by_apic_id_.end());
  }
  // A broadcast names every CPU: reserve it all now so no send allocates.
  dest_.reserve(config.cpus);
}

CpuId Interconnect::search_apic_id(std::uint32_t apic_id) const {
  const auto it = std::lower_bound(by_apic_id_.begin(), by_apic_id_.end(),
                                   std::pair<std::uint32_t, CpuId>{apic_id, 0});
  return it != by_apic_id_.end() && it->first == apic_id ? it->second : kNoCpu;
}

void Interconnect::add_all(CpuId except) {
  const auto n = static_cast<CpuId>(apics_.size());
  for (CpuId cpu = 0; cpu < n; ++cpu) {
    if (cpu != except) dest_.push_back(cpu);
  }
}

void Interconnect::resolve(const LocalApic& sender, IcrValue icr) {
  dest_.clear();
  switch (icr.shorthand()) {
    case Shorthand::self:
      dest_.push_back(sender.cpu());
      return;
    case Shorthand::all_including_self:
      add_all(kNoCpu);
      return;
    case Shorthand::all_excluding_self:
      add_all(sender.cpu());
      return;
    case Shorthand::none:
      break;
  }
  const bool x2 = sender.mode() == ApicMode::x2apic;
  // An xAPIC sender's ICR2 holds 8 destination bits (docs/hardware.md §3 "Local APIC").
  const std::uint32_t dest = x2 ? icr.destination() : (icr.destination() & APIC_BROADCAST_ID);
  const std::uint32_t broadcast = x2 ? X2APIC_BROADCAST_ID : APIC_BROADCAST_ID;
  if (dest == broadcast) {  // SDM 11.6.2: all APICs, the sender included
    add_all(kNoCpu);
    return;
  }
  if (icr.dest_mode() == DestMode::physical) {
    if (const CpuId cpu = cpu_of_apic_id(dest); cpu != kNoCpu) dest_.push_back(cpu);
    return;
  }
  if (x2) {
    // x2APIC cluster mode (SDM 11.12.10): each member bit names the APIC whose ID is
    // cluster << 4 | bit, so the lookup costs at most 16 searches, not a scan.
    const auto cluster = static_cast<std::uint32_t>(kX2apicLogicalCluster.get(dest));
    const auto members = static_cast<std::uint32_t>(kX2apicLogicalMembers.get(dest));
    for (std::uint32_t bit = 0; bit < kX2apicLogicalMembers.width; ++bit) {
      if ((members & (1u << bit)) == 0) continue;
      const CpuId cpu = cpu_of_apic_id((cluster << kX2apicClusterShift) | bit);
      if (cpu != kNoCpu && apics_[cpu]->matches_logical(dest, ApicMode::x2apic)) {
        dest_.push_back(cpu);
      }
    }
    return;
  }
  // xAPIC logical (flat or cluster, per receiver's DFR): at most 255 APICs to check.
  const auto n = static_cast<CpuId>(apics_.size());
  for (CpuId cpu = 0; cpu < n; ++cpu) {
    if (apics_[cpu]->matches_logical(dest, ApicMode::xapic)) dest_.push_back(cpu);
  }
}

// The common IPI, one APIC by its physical ID, `count` times (what resolve()
// finds for it, without its switch and loop; a broadcast ID goes the long way):
// true, with `posted` set, when it was one. Alike messages post as one entry
// (EventQueue::post with a count); the counters count each. Inlined into both
// send()s: the unicast is the path of every IPI.
[[gnu::always_inline]] inline bool Interconnect::send_unicast(CpuId sender, IcrValue icr,
                                                              std::uint32_t count,
                                                              std::uint32_t& posted) {
  if (icr.shorthand() != Shorthand::none || icr.dest_mode() != DestMode::physical ||
      ctx_.tracer.enabled()) {
    return false;
  }
  const bool x2 = apics_[sender]->mode() == ApicMode::x2apic;
  const std::uint32_t dest = x2 ? icr.destination() : (icr.destination() & APIC_BROADCAST_ID);
  if (dest == (x2 ? X2APIC_BROADCAST_ID : APIC_BROADCAST_ID)) return false;
  counters_.sends += count;
  dest_.clear();
  const CpuId cpu = cpu_of_apic_id(dest);
  if (cpu == kNoCpu) {
    counters_.dropped_no_destination += count;
    posted = 0;
    return true;
  }
  dest_.push_back(cpu);
  const DeliveryMode mode = icr.delivery_mode();
  ctx_.queue.post(ctx_.now() + ctx_.cost(TimingParam::ipi_latency), *apics_[cpu],
                  LocalApic::kIpiArrive, LocalApic::pack_message(mode, icr.vector()), count);
  counters_.messages_posted += count;
  counters_.posted_by_mode[index_of(mode)] += count;
  posted = count;
  return true;
}

std::uint32_t Interconnect::send(CpuId sender, IcrValue icr) {
  if (std::uint32_t posted = 0; send_unicast(sender, icr, 1, posted)) return posted;
  ++counters_.sends;
  return send_resolved(sender, icr);
}

std::uint64_t Interconnect::send(CpuId sender, IcrValue icr, std::uint32_t count) {
  if (std::uint32_t posted = 0; send_unicast(sender, icr, count, posted)) return posted;
  std::uint64_t all = 0;
  for (; count != 0; --count)
    all += send(sender, icr);
  return all;
}

// Out of line: its trace record and loop made send() save registers and set up
// a frame for the unicast above as well.
[[gnu::noinline]] std::uint32_t Interconnect::send_resolved(CpuId sender, IcrValue icr) {
  const DeliveryMode mode = icr.delivery_mode();
  resolve(*apics_[sender], icr);
  // Arbitration among lowest-priority destinations is not modelled: the first wins.
  if (mode == DeliveryMode::lowest_priority && dest_.size() > 1) {
    dest_.erase(dest_.begin() + 1, dest_.end());
  }

  const Cycle now = ctx_.now();
  if (ctx_.tracer.enabled()) {
    // docs/format.md "Trace records" ipi_send: the ICR in its 64-bit x2APIC form, whatever the
    // mode.
    ctx_.tracer.emit(now, sender, "ipi_send",
                     {{"icr", TraceValue::hex(icr.raw())}, {"dest", TraceValue::cpu_list(dest_)}});
  }
  if (dest_.empty()) {
    ++counters_.dropped_no_destination;
    return 0;
  }
  const Cycle latency = ctx_.cost(TimingParam::ipi_latency);
  const Cycle per_dest = ctx_.cost(TimingParam::ipi_per_destination);
  const std::uint64_t arg = LocalApic::pack_message(mode, icr.vector());
  Cycle at = now + latency;
  // Posted: nothing cancels a message, and identical ones at one cycle (the
  // ten NMIs kvm-unit-tests' "pending nmi" sends from its handler) share an entry.
  for (const CpuId cpu : dest_) {
    ctx_.queue.post(at, *apics_[cpu], LocalApic::kIpiArrive, arg);
    at += per_dest;
  }
  const auto n = static_cast<std::uint32_t>(dest_.size());
  counters_.messages_posted += n;
  counters_.posted_by_mode[index_of(mode)] += n;
  return n;
}

}  // namespace fredsim::apic
