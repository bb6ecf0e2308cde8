// KVM's virtual NMIs of a vCPU (include/fredsim/kernel/virtual_nmi.hpp).
#include "fredsim/kernel/virtual_nmi.hpp"

#include <algorithm>

namespace fredsim::kernel {
namespace {
constexpr std::uint64_t kUnknownSourceBit = 1u << 0;  // cpu::arch::kNmiSourceUnknownBit
}  // namespace

VirtualNmiEntry VirtualNmiQueue::before_entry(bool guest_blocks_nmi, bool nmi_source) {
  // process_nmi(): two may be pending only while nothing blocks NMIs, one to
  // inject now and one for the NMI window; the rest merge into them.
  const std::uint32_t limit = (guest_blocks_nmi || injected_in_flight_) ? 1 : 2;
  const std::uint32_t total = pending_ + queued_;
  pending_ = std::min(total, limit);
  stats_.collapsed += total - pending_;
  queued_ = 0;

  VirtualNmiEntry e;
  // inject_pending_event(): an NMI is allowed when the guest does not block it
  // and no injected NMI is still in flight (vmx_nmi_allowed()).
  if (pending_ > 0 && !guest_blocks_nmi && !injected_in_flight_) {
    --pending_;
    injected_in_flight_ = true;
    e.inject = true;
    // The bitmap of the sources not reported yet. KVM holds a second NMI that
    // bare metal would have merged into the first (process_nmi's limit of two),
    // so its sources may all have gone with the first: it then reports bit 0,
    // the NMI-source encoding of "source unknown, check every handler", which
    // is what the guest can make of it (an empty bitmap would only add the
    // kernel's zero-event-data warning to the same polling).
    e.event_data = nmi_source ? (sources_ != 0 ? sources_ : kUnknownSourceBit) : 0;
    sources_ = 0;  // reported: the next injection carries what arrives later
    ++stats_.injected;
  }
  // An NMI still pending waits for the guest to unblock NMIs (enable_nmi_window()).
  if (pending_ > 0) {
    e.nmi_window = true;
    ++stats_.window_requests;
  }
  return e;
}

}  // namespace fredsim::kernel
