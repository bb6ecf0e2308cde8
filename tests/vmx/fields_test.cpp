#include "fredsim/vmx/fields.hpp"

#include <gtest/gtest.h>

namespace fredsim::vmx {
namespace {

TEST(FieldEncoding, WidthAndTypeComeFromTheEncoding) {
  EXPECT_EQ(FieldEncoding{field::kPinControls}.width(), FieldWidth::w32);
  EXPECT_EQ(FieldEncoding{field::kPinControls}.type(), FieldType::control);
  EXPECT_EQ(FieldEncoding{field::kExitReason}.type(), FieldType::exit_info);
  EXPECT_TRUE(FieldEncoding{field::kExitReason}.read_only());
  EXPECT_TRUE(FieldEncoding{field::kExitQualification}.read_only());
  EXPECT_EQ(FieldEncoding{field::kExitQualification}.width(), FieldWidth::natural);
  EXPECT_TRUE(FieldEncoding{field::kOriginalEventData}.read_only());
  EXPECT_EQ(FieldEncoding{field::kOriginalEventData}.width(), FieldWidth::w64);
  EXPECT_EQ(FieldEncoding{field::kInjectedEventData}.type(), FieldType::control);
  EXPECT_EQ(FieldEncoding{field::kInjectedEventData}.width(), FieldWidth::w64);
  EXPECT_EQ(FieldEncoding{field::kGuestFredConfig}.type(), FieldType::guest);
  EXPECT_EQ(FieldEncoding{field::kHostFredSsp3}.type(), FieldType::host);
  EXPECT_EQ(FieldEncoding{field::kGuestCsSelector}.width(), FieldWidth::w16);
  EXPECT_EQ(FieldEncoding{field::kGuestInterruptibility}.type(), FieldType::guest);
  EXPECT_EQ(FieldEncoding{field::kHostRip}.width(), FieldWidth::natural);
  EXPECT_FALSE(FieldEncoding{field::kEntryIntrInfo}.read_only());
}

TEST(FieldEncoding, OnlyExitInformationIsReadOnly) {
  for (const FieldInfo& f : known_fields()) {
    const FieldEncoding e{f.encoding};
    EXPECT_EQ(e.read_only(), e.type() == FieldType::exit_info) << f.name;
    EXPECT_TRUE(e.well_formed()) << f.name;
  }
}

TEST(FieldEncoding, HighAccessOnlyOn64BitFields) {
  EXPECT_TRUE((FieldEncoding{field::kInjectedEventData + 1}.well_formed()));
  EXPECT_TRUE((FieldEncoding{field::kInjectedEventData + 1}.high()));
  EXPECT_EQ((FieldEncoding{field::kInjectedEventData + 1}.full()), field::kInjectedEventData);
  EXPECT_FALSE((FieldEncoding{field::kPinControls + 1}.well_formed()));
  EXPECT_FALSE((FieldEncoding{field::kGuestRip + 1}.well_formed()));
  EXPECT_FALSE(FieldEncoding{0x1000 | field::kPinControls}.well_formed());  // bit 12
  EXPECT_FALSE(FieldEncoding{0x8000 | field::kPinControls}.well_formed());  // bit 15
}

TEST(FieldTable, FredFieldsStepByTwo) {
  for (std::uint32_t e = field::kGuestFredConfig; e <= field::kGuestFredSsp3; e += 2) {
    EXPECT_TRUE(field_slot(e).has_value()) << std::hex << e;
  }
  for (std::uint32_t e = field::kHostFredConfig; e <= field::kHostFredSsp3; e += 2) {
    EXPECT_TRUE(field_slot(e).has_value()) << std::hex << e;
  }
  EXPECT_EQ(field::kGuestFredSsp3, 0x2828u);
  EXPECT_EQ(field::kHostFredSsp3, 0x2C16u);
}

TEST(FieldTable, NamesAndUnknowns) {
  EXPECT_EQ(field_name(field::kExitReason), "exit_reason");
  EXPECT_EQ(field_name(field::kInjectedEventData + 1), "injected_event_data");
  EXPECT_EQ(field_name(0x4828), "");  // SMBASE: a real field the model lacks
  EXPECT_FALSE(field_slot(0x4828).has_value());
}

}  // namespace
}  // namespace fredsim::vmx

namespace fredsim::vmx {
namespace {

TEST(FieldSlot, EveryEncodingMapsToItsOwnSlotOrToNone) {
  // Exhaustive over 17 bits: the table's fields map to their index, every other
  // encoding (other fields, high halves, access-type bit, reserved bits) to none.
  const auto fields = known_fields();
  std::size_t found = 0;
  for (std::uint32_t enc = 0; enc < 0x20000; ++enc) {
    const auto slot = field_slot(enc);
    if (!slot) continue;
    ASSERT_LT(*slot, fields.size());
    EXPECT_EQ(fields[*slot].encoding, enc) << std::hex << enc;
    ++found;
  }
  EXPECT_EQ(found, fields.size());
  EXPECT_FALSE(field_slot(0xFFFFFFFFu).has_value());
}

}  // namespace
}  // namespace fredsim::vmx
