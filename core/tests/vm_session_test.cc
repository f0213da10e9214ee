// VmSession against a fake VMM plugin (an ops table in this file): what the
// core makes of the bytes a plugin hands it, without booting anything.
#include <gtest/gtest.h>

#include <string>

#include "agent_line.h"
#include "vm_session.h"

namespace ezone {
namespace {

// The sink of the fake's current VM: the test plays the plugin's reader.
const ezone_vm_sink* g_sink = nullptr;
int g_vm = 0;

ezone_status FakeCreate(const ezone_guest_spec*, const ezone_vm_sink* sink, void** vm, char*,
                        size_t) {
  g_sink = sink;
  *vm = &g_vm;
  return EZONE_OK;
}
void FakeDestroy(void*) { g_sink = nullptr; }
int64_t FakePid(void*) { return -1; }

void Control(std::string_view bytes) { g_sink->control(g_sink->core, bytes.data(), bytes.size()); }

class VmSessionTest : public ::testing::Test {
 protected:
  VmSessionTest() {
    ops_.struct_size = sizeof ops_;
    ops_.create = &FakeCreate;
    ops_.destroy = &FakeDestroy;
    ops_.vmm_pid = &FakePid;
    descriptor_.abi_major = EZONE_PLUGIN_ABI_MAJOR;
    descriptor_.struct_size = sizeof descriptor_;
    descriptor_.kind = EZONE_KIND_VMM;
    descriptor_.name = "fake";
    descriptor_.version = "0";
    descriptor_.vmm = &ops_;
    plugin_.descriptor = &descriptor_;
  }
  // The kinds of the events queued so far.
  std::vector<VmEvent::Kind> Drain() {
    std::vector<VmEvent::Kind> kinds;
    while (auto e = events_.Wait(Clock::now())) kinds.push_back(e->kind);
    return kinds;
  }
  ezone_vmm_ops ops_{};
  ezone_plugin_descriptor descriptor_{};
  Plugin plugin_;
  EventQueue events_;
  BootRequest request_;
};

// Issue 20 #2: an unterminated control line of the destroyed VM was glued to
// the first line of the VM booted next, so its READY went unseen.
TEST_F(VmSessionTest, ARebootDoesNotGlueTheOldVmsPartialLineToTheNewOnes) {
  VmSession session(plugin_, Role::kVictim, "n0nce", "", &events_);
  std::string error;
  ASSERT_EQ(session.Start(request_, &error), EZONE_OK) << error;
  Control("HB\nREA");
  ASSERT_EQ(session.Reboot(request_, "test", &error), EZONE_OK) << error;
  Control("READY n0nce\nHB\n");
  EXPECT_EQ(Drain(), std::vector<VmEvent::Kind>{VmEvent::Kind::kReady});
  EXPECT_EQ(session.heartbeats(), 2);
  session.Destroy();
  EXPECT_EQ(g_sink, nullptr);
}

TEST_F(VmSessionTest, AgentRepliesReachTheirCommandAndForeignReadysAreNotes) {
  VmSession session(plugin_, Role::kVictim, "n0nce", "", &events_);
  std::string error;
  ASSERT_EQ(session.Start(request_, &error), EZONE_OK) << error;
  Control("READY other\nOK 99999999 too big\nERR x nope\n");
  EXPECT_EQ(Drain(), std::vector<VmEvent::Kind>{VmEvent::Kind::kNote});
}

TEST(AgentLineTest, ParsesTheAgentsLines) {
  AgentLine ready = ParseAgentLine("READY 0123abcd kernel=6.1\r");
  EXPECT_EQ(ready.kind, AgentLine::Kind::kReady);
  EXPECT_EQ(ready.nonce, "0123abcd");
  EXPECT_EQ(ready.rest, "0123abcd kernel=6.1");
  EXPECT_EQ(ParseAgentLine("HB").kind, AgentLine::Kind::kHeartbeat);
  AgentLine ok = ParseAgentLine("OK 12 exit=0 ezone-workload v=1");
  EXPECT_EQ(ok.kind, AgentLine::Kind::kReply);
  EXPECT_EQ(ok.id, 12);
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.text, "exit=0 ezone-workload v=1");
  AgentLine err = ParseAgentLine("ERR 3");
  EXPECT_EQ(err.kind, AgentLine::Kind::kReply);
  EXPECT_FALSE(err.ok);
  EXPECT_EQ(err.text, "");
}

TEST(AgentLineTest, GarbledLinesAreOther) {
  for (std::string_view line : {"", " ", "REA", "READYX", "OK", "OK ", "OK 0", "OK -1", "OK 1x",
                                "ERR 1000001", "OK 99999999999999999999", "hb"}) {
    EXPECT_EQ(ParseAgentLine(line).kind, AgentLine::Kind::kOther) << "'" << line << "'";
  }
}

}  // namespace
}  // namespace ezone
