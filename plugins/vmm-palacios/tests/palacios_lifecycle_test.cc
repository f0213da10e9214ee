// The VM lifecycle (create -> memory -> streams -> launch -> stop -> free)
// against FakeV3vee, a stand-in for v3vee.ko: no Palacios exists here.
// Every test name says WithFakeDevice.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "fake_v3vee.h"
#include "palacios_config.h"
#include "palacios_guest.h"
#include "palacios_image.h"
#include "sink_recorder.h"

namespace ezone::palacios {
namespace {

using testing::FakeV3vee;
using testing::SinkRecorder;

GuestRequest Request(uint32_t memory_mib = 256) {
  GuestConfig c;
  c.memory_mib = memory_mib;
  GuestRequest r;
  r.name = "ezone-test-victim";
  r.image = PackImage(BuildConfigXml(c), {std::string("fake ISO bytes")});
  r.memory_bytes = uint64_t{memory_mib} << 20;
  r.device_node_wait = std::chrono::milliseconds(500);
  r.state_period = std::chrono::milliseconds(20);
  r.write_timeout = std::chrono::milliseconds(200);
  return r;
}

// The calls between two log entries, for order checks.
std::vector<std::string> Calls(const FakeV3vee& fake) { return fake.log; }

size_t Position(const std::vector<std::string>& log, const std::string& entry) {
  auto it = std::find(log.begin(), log.end(), entry);
  return it == log.end() ? std::string::npos : static_cast<size_t>(it - log.begin());
}

class PalaciosLifecycleWithFakeDevice : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_EQ(fake_.LeftOver(), "") << "the plugin left something held";
    EXPECT_TRUE(fake_.violations.empty()) << ::testing::PrintToString(fake_.violations);
  }
  // Expects a failed start that undid everything; returns its message.
  template <typename E>
  std::string StartFails() {
    try {
      PalaciosGuest guest(fake_, fake_.paths, Request(), sink_.sink());
      ADD_FAILURE() << "started";
    } catch (const E& e) {
      return e.what();
    }
    return "";
  }
  FakeV3vee fake_;
  SinkRecorder sink_;
};

TEST_F(PalaciosLifecycleWithFakeDevice, BootsStreamsBothWaysAndTearsDownInOrder) {
  {
    PalaciosGuest guest(fake_, fake_.paths, Request(), sink_.sink());
    EXPECT_EQ(guest.index(), 0);
    EXPECT_EQ(fake_.guests.at(0).name, "ezone-test-victim");
    EXPECT_EQ(fake_.guests.at(0).boot_file, "fake ISO bytes");
    EXPECT_EQ(fake_.guests.at(0).state, "running");

    fake_.GuestWrites(0, "com1", "[    0.000000] Linux version 6.1\r\n");
    fake_.GuestWrites(0, "com2", "READY abc 6.1\n");
    EXPECT_TRUE(sink_.WaitFor([](const SinkRecorder& s) {
      return s.console_.find("Linux version") != std::string::npos &&
             s.control_ == "READY abc 6.1\n";
    })) << sink_.console() << sink_.control();
    EXPECT_EQ(sink_.console().find("READY"), std::string::npos) << "com2 bytes went to the console";

    guest.SendControl("1 ping\n");
    EXPECT_EQ(fake_.GuestReads(0, "com2", 7), "1 ping\n");
  }
  std::vector<std::string> want = {
      "open /dev/v3vee", "ioctl 12", "open /dev/v3-vm0", "ioctl 21 com1", "ioctl 21 com2",
      "ioctl 25", "ioctl 26", "close com1", "close com2", "close vm0", "ioctl 13",
      "close control"};
  std::vector<std::string> got = Calls(fake_);
  EXPECT_EQ(got, want) << ::testing::PrintToString(got);
  EXPECT_TRUE(sink_.events().empty());
}

TEST_F(PalaciosLifecycleWithFakeDevice, CreateFailsLeavesNothing) {
  fake_.fail_ioctl[kCreateGuest] = {1, EPERM};
  std::string why = StartFails<DeviceError>();
  EXPECT_NE(why.find("create guest (ioctl 12"), std::string::npos) << why;
  EXPECT_FALSE(fake_.Logged("ioctl 13")) << "nothing was created, nothing to free";
  EXPECT_TRUE(fake_.Logged("close control"));
}

TEST_F(PalaciosLifecycleWithFakeDevice, ControlDeviceOpenFailsLeavesNothing) {
  fake_.fail_open["/dev/v3vee"] = EACCES;
  std::string why = StartFails<DeviceError>();
  EXPECT_NE(why.find("Permission denied"), std::string::npos) << why;
}

TEST_F(PalaciosLifecycleWithFakeDevice, VmDeviceOpenFailsFreesTheGuest) {
  fake_.fail_open["/dev/v3-vm0"] = EACCES;
  StartFails<DeviceError>();
  EXPECT_TRUE(fake_.Logged("ioctl 13"));
}

TEST_F(PalaciosLifecycleWithFakeDevice, VmDeviceNodeAppearingLateIsWaitedFor) {
  fake_.vm_node_missing_opens = 3;  // udev has not made /dev/v3-vm0 yet
  PalaciosGuest guest(fake_, fake_.paths, Request(), sink_.sink());
  EXPECT_EQ(std::count(fake_.log.begin(), fake_.log.end(), "open /dev/v3-vm0"), 4);
}

TEST_F(PalaciosLifecycleWithFakeDevice, ConsoleStreamFailsFreesTheGuest) {
  fake_.fail_ioctl[kVmStreamConnect] = {1, EFAULT};
  std::string why = StartFails<DeviceError>();
  EXPECT_NE(why.find("connect stream com1"), std::string::npos) << why;
  EXPECT_FALSE(fake_.Logged("ioctl 25")) << "launched without its console";
  EXPECT_FALSE(fake_.Logged("ioctl 26")) << "stopped a VM that never ran";
  EXPECT_TRUE(fake_.Logged("ioctl 13"));
}

TEST_F(PalaciosLifecycleWithFakeDevice, ControlStreamFailsClosesComOneAndFreesTheGuest) {
  fake_.fail_ioctl[kVmStreamConnect] = {2, EFAULT};
  std::string why = StartFails<DeviceError>();
  EXPECT_NE(why.find("connect stream com2"), std::string::npos) << why;
  std::vector<std::string> log = fake_.log;
  EXPECT_LT(Position(log, "close com1"), Position(log, "ioctl 13")) << "freed with com1 open";
  EXPECT_FALSE(fake_.Logged("ioctl 25"));
}

TEST_F(PalaciosLifecycleWithFakeDevice, LaunchFailsClosesStreamsAndFreesTheGuest) {
  fake_.fail_ioctl[kVmLaunch] = {1, EPERM};
  std::string why = StartFails<DeviceError>();
  EXPECT_NE(why.find("launch (ioctl 25"), std::string::npos) << why;
  EXPECT_FALSE(fake_.Logged("ioctl 26")) << "a VM that did not launch needs no stop";
  std::vector<std::string> log = fake_.log;
  EXPECT_LT(Position(log, "close com2"), Position(log, "ioctl 13"));
}

TEST_F(PalaciosLifecycleWithFakeDevice, NotEnoughMemoryDeclinesBeforeCreating) {
  fake_.free_memory = uint64_t{64} << 20;
  std::string why = StartFails<ezone::sdk::Declined>();
  EXPECT_NE(why.find("not enough memory added to Palacios: 64 MiB free"), std::string::npos) << why;
  EXPECT_FALSE(fake_.Logged("ioctl 12"));
}

TEST_F(PalaciosLifecycleWithFakeDevice, NoMemoryPoolsAtAllDeclines) {
  fake_.free_memory.reset();
  std::string why = StartFails<ezone::sdk::Declined>();
  EXPECT_NE(why.find("0 MiB free"), std::string::npos) << why;
}

TEST_F(PalaciosLifecycleWithFakeDevice, AddsTheGuestsMemoryWhenAllowed) {
  fake_.free_memory = uint64_t{4} << 20;
  GuestRequest r = Request(200);
  r.add_memory = true;
  {
    PalaciosGuest guest(fake_, fake_.paths, r, sink_.sink());
    ASSERT_EQ(fake_.added_memory.size(), 1u);
    EXPECT_EQ(fake_.added_memory[0].type, kMemRequested);
    EXPECT_EQ(fake_.added_memory[0].node, -1);
    EXPECT_EQ(fake_.added_memory[0].num_pages, 65536u) << "200 MiB rounded up to a power of two";
    EXPECT_LT(Position(fake_.log, "ioctl 50"), Position(fake_.log, "ioctl 12"));
  }
}

TEST_F(PalaciosLifecycleWithFakeDevice, AddMemoryFailsLeavesNothing) {
  fake_.free_memory = 0;
  fake_.fail_ioctl[kAddMemory] = {1, EFAULT};
  GuestRequest r = Request();
  r.add_memory = true;
  EXPECT_THROW(PalaciosGuest(fake_, fake_.paths, r, sink_.sink()), DeviceError);
  EXPECT_FALSE(fake_.Logged("ioctl 12"));
}

TEST_F(PalaciosLifecycleWithFakeDevice, GuestThatStoppedByItselfIsReportedAndFreedWithoutStop) {
  {
    PalaciosGuest guest(fake_, fake_.paths, Request(), sink_.sink());
    fake_.SetState(0, "ERROR");
    EXPECT_TRUE(sink_.WaitFor([](const SinkRecorder& s) { return !s.events_.empty(); }));
  }
  auto events = sink_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first, EZONE_EVENT_GUEST_STOPPED);
  EXPECT_EQ(events[0].second, "Palacios reports /dev/v3-vm0 ERROR");
  EXPECT_FALSE(fake_.Logged("ioctl 26"));
  EXPECT_TRUE(fake_.Logged("ioctl 13"));
}

TEST_F(PalaciosLifecycleWithFakeDevice, PausedGuestIsContinuedThenStoppedThenFreed) {
  {
    PalaciosGuest guest(fake_, fake_.paths, Request(), sink_.sink());
    fake_.SetState(0, "paused");  // e.g. someone ran v3_pause
  }
  std::vector<std::string> log = fake_.log;
  EXPECT_LT(Position(log, "ioctl 24"), Position(log, "ioctl 26"));
  EXPECT_LT(Position(log, "ioctl 26"), Position(log, "ioctl 13"));
}

TEST_F(PalaciosLifecycleWithFakeDevice, StopAndFreeFailuresAreReportedAsNotes) {
  {
    PalaciosGuest guest(fake_, fake_.paths, Request(), sink_.sink());
    fake_.fail_ioctl[kVmStop] = {1, EBUSY};
  }
  auto events = sink_.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].first, EZONE_EVENT_NOTE);
  EXPECT_NE(events[0].second.find("stop (ioctl 26"), std::string::npos);
  EXPECT_NE(events[1].second.find("free guest 0 (ioctl 13) failed"), std::string::npos);
  // The fake keeps the running guest; say it is expected here and clean up.
  fake_.violations.clear();
  fake_.guests.clear();
}

TEST_F(PalaciosLifecycleWithFakeDevice, TwoGuestsSideBySideAreIndependent) {
  auto victim = std::make_unique<PalaciosGuest>(fake_, fake_.paths, Request(), sink_.sink());
  SinkRecorder witness_sink;
  GuestRequest r = Request();
  r.name = "ezone-test-witness";
  PalaciosGuest witness(fake_, fake_.paths, r, witness_sink.sink());
  EXPECT_EQ(witness.index(), 1);
  fake_.GuestWrites(1, "com2", "HB 1 100\n");
  EXPECT_TRUE(witness_sink.WaitFor([](const SinkRecorder& s) { return s.control_ == "HB 1 100\n"; }));
  victim.reset();
  EXPECT_EQ(fake_.guests.count(0), 0u);
  EXPECT_EQ(fake_.guests.at(1).state, "running");
  EXPECT_EQ(sink_.control(), "");
}

TEST_F(PalaciosLifecycleWithFakeDevice, WriteThatTheGuestNeverTakesTimesOut) {
  PalaciosGuest guest(fake_, fake_.paths, Request(), sink_.sink());
  // Fill the socket until writes would block, as Palacios's full UART ring.
  std::string big(1 << 22, 'x');
  EXPECT_THROW(guest.SendControl(big), DeviceError);
}

}  // namespace
}  // namespace ezone::palacios
