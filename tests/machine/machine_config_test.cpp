// Machine::create: the configurations a machine refuses, in the machine's terms;
// and Machine::write_icr's x2APIC path.
#include <gtest/gtest.h>

#include <vector>

#include "fredsim/apic/constants.hpp"
#include "fredsim/apic/icr.hpp"
#include "fredsim/apic/interconnect.hpp"
#include "fredsim/apic/local_apic.hpp"
#include "fredsim/cpu/cpu.hpp"
#include "fredsim/machine/machine.hpp"

namespace fredsim {
namespace {

std::string refusal(std::uint32_t cpus, apic::ApicMode mode) {
  machine::MachineConfig c;
  c.cpus = cpus;
  c.apic = mode;
  auto m = machine::Machine::create(c);
  return m.ok() ? std::string() : m.error().message;
}

TEST(MachineConfig, CpuCountIsOneToMaxCpus) {
  EXPECT_EQ(refusal(0, apic::ApicMode::x2apic), "a machine has 1..4096 CPUs, not 0");
  EXPECT_EQ(refusal(machine::kMaxCpus + 1, apic::ApicMode::x2apic),
            "a machine has 1..4096 CPUs, not 4097");
  EXPECT_EQ(refusal(1, apic::ApicMode::x2apic), "");
}

TEST(MachineConfig, ApicsStartEnabled) {
  EXPECT_EQ(refusal(2, apic::ApicMode::disabled),
            "a machine's APICs start in xapic or x2apic mode, not disabled");
}

TEST(MachineConfig, XapicAddressesAtMost255Cpus) {
  EXPECT_EQ(refusal(apic::kXapicMaxCpus, apic::ApicMode::xapic), "");
  EXPECT_EQ(refusal(apic::kXapicMaxCpus + 1, apic::ApicMode::xapic),
            "xAPIC addresses at most 255 CPUs (8-bit APIC IDs); use x2apic for 256");
}

auto x2apic_machine(std::uint32_t cpus) {
  machine::MachineConfig c;
  c.cpus = cpus;
  c.apic = apic::ApicMode::x2apic;
  return machine::Machine::create(c);
}

TEST(MachineIcr, AnX2apicIcrWriteSendsOrFaultsAsItsWrmsrDoes) {
  // Machine::write_icr goes straight to the APIC in x2APIC mode; what the
  // WRMSR of MSR 0x830 does must not change: a valid ICR sends, one with a
  // reserved bit (bit 12, delivery status, SDM 11.12.1.3) or written while the
  // APIC is not in x2APIC mode is the CPU's #GP and sends nothing.
  auto created = x2apic_machine(2);
  ASSERT_TRUE(created.ok());
  machine::Machine& m = *created.value();
  const auto nmi = apic::IcrValue{}.with_delivery_mode(apic::DeliveryMode::nmi).with_destination(1);
  m.write_icr(0, nmi);
  EXPECT_EQ(m.interconnect().counters().sends, 1u);
  EXPECT_EQ(m.cpu(0).stats().faults, 0u);
  m.write_icr(0, apic::IcrValue(nmi.raw() | (std::uint64_t{1} << 12)));
  EXPECT_EQ(m.interconnect().counters().sends, 1u);
  EXPECT_EQ(m.cpu(0).stats().faults, 1u);
  EXPECT_EQ(m.cpu(0).last_fault(), cpu::Fault::gp);
  ASSERT_EQ(m.apic(0).write_apic_base(0), cpu::Fault::none);  // x2APIC -> disabled
  m.write_icr(0, nmi);
  EXPECT_EQ(m.interconnect().counters().sends, 1u);
  EXPECT_EQ(m.cpu(0).stats().faults, 2u);
}

TEST(MachineIcr, AnX2apicRegisterWriteActsOrFaultsAsItsWrmsrDoes) {
  // Machine::apic_write (the kernel's EOI, LVT and TPR writes) goes straight
  // to the APIC in x2APIC mode as well: a TPR write sets it, an EOI counts,
  // an EOI with a value other than 0 or a write to a read-only register (the
  // version) is the CPU's #GP (SDM 11.12.1.3) and changes nothing.
  auto created = x2apic_machine(1);
  ASSERT_TRUE(created.ok());
  machine::Machine& m = *created.value();
  m.apic_write(0, apic::APIC_TASKPRI, 0x20);
  EXPECT_EQ(m.apic_read(0, apic::APIC_TASKPRI), 0x20u);
  EXPECT_EQ(m.cpu(0).stats().faults, 0u);
  const std::uint64_t eois = m.apic(0).counters().eoi_writes;
  m.apic_write(0, apic::APIC_EOI, 1);
  EXPECT_EQ(m.cpu(0).stats().faults, 1u);
  EXPECT_EQ(m.cpu(0).last_fault(), cpu::Fault::gp);
  EXPECT_EQ(m.apic(0).counters().eoi_writes, eois);
  m.apic_write(0, apic::APIC_LVR, 0);
  EXPECT_EQ(m.cpu(0).stats().faults, 2u);
  m.apic_write(0, apic::APIC_EOI, 0);
  EXPECT_EQ(m.apic(0).counters().eoi_writes, eois + 1);
  EXPECT_EQ(m.cpu(0).stats().faults, 2u);
}

// What a machine shows of its IPIs: every counter the sender's and the
// receiver's side keep, the CPUs' NMI statistics and the queue's event count.
std::vector<std::uint64_t> icr_footprint(machine::Machine& m) {
  std::vector<std::uint64_t> v;
  const auto& ic = m.interconnect().counters();
  v.insert(v.end(),
           {ic.sends, ic.messages_posted, ic.dropped_no_destination, m.queue().events_run()});
  for (CpuId c = 0; c < m.cpu_count(); ++c) {
    const auto& a = m.apic(c).counters();
    v.insert(v.end(), {a.ipis_sent, a.ipis_rejected, a.received_dropped, a.nmis_raised,
                       a.nmis_without_sink, a.errors});
    v.insert(v.end(), a.received.begin(), a.received.end());
    const auto& s = m.cpu(c).stats();
    v.insert(v.end(), {s.nmi_received, s.nmi_coalesced, s.nmi_delivered, s.faults,
                       m.cpu(c).nmi_pending() ? 1u : 0u, m.cpu(c).nmi_source_bitmap()});
  }
  return v;
}

TEST(MachineIcr, AnIcrWrittenNTimesInOneCallIsNWritesOfIt) {
  // Machine::write_icr with a count (a handler's ten identical sends) posts
  // the messages as one queue entry, the receiving APIC runs them together and
  // the CPU merges the ones that find an NMI waiting: everything counted must
  // equal N separate writes whose messages run one by one, for a
  // unicast NMI (to another CPU and to itself), a broadcast, a fixed IPI, an
  // illegal vector and a write that faults, in both APIC modes.
  const auto nmi = apic::IcrValue{}.with_delivery_mode(apic::DeliveryMode::nmi);
  const apic::IcrValue icrs[] = {
      nmi.with_destination(1).with_vector(3),
      nmi.with_destination(0),
      nmi.with_shorthand(apic::Shorthand::all_excluding_self),
      apic::IcrValue{}
          .with_delivery_mode(apic::DeliveryMode::fixed)
          .with_vector(0x44)
          .with_destination(1),
      apic::IcrValue{}
          .with_delivery_mode(apic::DeliveryMode::fixed)
          .with_vector(3)
          .with_destination(1),
      apic::IcrValue(nmi.with_destination(1).raw() | (std::uint64_t{1} << 12)),  // reserved bit
      nmi.with_destination(7),                                                   // no such CPU
  };
  for (const apic::ApicMode mode : {apic::ApicMode::x2apic, apic::ApicMode::xapic}) {
    for (const apic::IcrValue icr : icrs) {
      for (const std::uint32_t n : {1u, 2u, 10u}) {
        SCOPED_TRACE(testing::Message() << "mode " << static_cast<int>(mode) << " icr 0x"
                                        << std::hex << icr.raw() << std::dec << " n " << n);
        machine::MachineConfig c;
        c.cpus = 3;
        c.apic = mode;
        auto one = machine::Machine::create(c);
        auto all = machine::Machine::create(c);
        ASSERT_TRUE(one.ok() && all.ok());
        machine::Machine& a = *one.value();
        machine::Machine& b = *all.value();
        for (std::uint32_t i = 0; i < n; ++i)
          a.write_icr(0, icr);
        b.write_icr(0, icr, n);
        EXPECT_EQ(icr_footprint(a), icr_footprint(b)) << "after the writes";
        // The reference runs its events one by one (step() takes nothing
        // together): each message raises its NMI on its own.
        while (a.queue().step()) {
        }
        b.queue().run_to_idle();
        EXPECT_EQ(icr_footprint(a), icr_footprint(b)) << "after the messages arrived";
      }
    }
  }
}

}  // namespace
}  // namespace fredsim
