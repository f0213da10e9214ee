// The SDK's QMP client and its JSON reader (ezone/qmp.h), against a scripted
// QEMU on a socketpair: negotiation, a command and its reply, events mapped
// once, and input that is not QMP.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "ezone/qmp.h"
#include "ezone/vmm_process.h"

namespace ezone::sdk {
namespace {

TEST(SdkJsonTest, MembersOfAnObjectWhateverTheyContain) {
  std::string_view o = R"( {"a": {"b": [1, "}", {"c": null}]}, "s": "x\"y\\z\u00e9", "n": -12.5e3, "t": true} )";
  EXPECT_EQ(json::Member(o, "a"), R"({"b": [1, "}", {"c": null}]})");
  EXPECT_EQ(json::Member(o, "n"), "-12.5e3");
  EXPECT_EQ(json::Member(o, "t"), "true");
  EXPECT_EQ(json::String(*json::Member(o, "s")), "x\"y\\z\xc3\xa9");
  EXPECT_EQ(json::Member(o, "b"), std::nullopt);  // not at the top
  EXPECT_EQ(json::Member("[1]", "a"), std::nullopt);
  EXPECT_EQ(json::Member(R"({"a": )", "a"), std::nullopt);
  EXPECT_EQ(json::Member(R"({"a" 1})", "a"), std::nullopt);
  EXPECT_FALSE(json::Valid(std::string(100, '[') + std::string(100, ']')));  // too deep
  EXPECT_TRUE(json::Valid(R"({"a": [1, 2, {"b": "c"}]})"));
  EXPECT_FALSE(json::Valid(R"({"a": 1} x)"));
  EXPECT_EQ(json::String(R"("bad \u12")"), std::nullopt);
  EXPECT_EQ(json::Quote("a\"b\\c\n"), R"("a\"b\\c\u000a")");
  EXPECT_EQ(QmpShutdownReason(R"({"guest": true, "reason": "guest-panic"})"), "guest-panic");
}

struct Events {
  std::mutex mu;
  std::vector<std::pair<ezone_vm_event, std::string>> list;
};

VmSink Recorder(Events* events) {
  ezone_vm_sink raw{};
  raw.core = events;
  raw.console = raw.control = [](void*, const char*, size_t) {};
  raw.event = [](void* core, ezone_vm_event e, const char* detail) {
    auto* ev = static_cast<Events*>(core);
    std::lock_guard lock(ev->mu);
    ev->list.push_back({e, detail});
  };
  return VmSink(raw);
}

std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

TEST(QmpClientTest, NegotiatesRunsACommandAndMapsEvents) {
  static Events events;
  SocketPair qmp = SocketPair::Make();
  QmpClient client(qmp.plugin.get(), Recorder(&events));
  int qemu = qmp.vmm.get();
  // QEMU greets; the client answers with qmp_capabilities.
  client.OnBytes(R"({"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}})" "\r\n");
  EXPECT_EQ(ReadLine(qemu), R"({"execute":"qmp_capabilities","id":0})");
  client.OnBytes("{\"return\": {}, \"id\": 0}\r\n");
  auto status = std::async(std::launch::async, [&] { return client.Execute("query-status"); });
  EXPECT_EQ(ReadLine(qemu), R"({"execute":"query-status","id":1})");
  client.OnBytes(R"({"return": {"status": "running", "running": true}, "id": 1})" "\r\n");
  std::string ret = status.get();
  EXPECT_EQ(json::Member(ret, "running"), "true");
  auto failing = std::async(std::launch::async, [&] {
    return client.Execute("migrate", R"({"uri": "fd:x"})");
  });
  EXPECT_EQ(ReadLine(qemu), R"({"execute":"migrate","arguments":{"uri": "fd:x"},"id":2})");
  client.OnBytes(R"({"error": {"class": "GenericError", "desc": "no"}, "id": 2})" "\n");
  try {
    failing.get();
    ADD_FAILURE() << "an error answer must throw";
  } catch (const QmpError& e) {  // typed: QEMU said no
    EXPECT_EQ(json::Member(e.error(), "desc"), R"("no")");
  }
  // Events, split across reads as a socket may deliver them.
  client.OnBytes(R"({"timestamp": {"seconds": 1}, "event": "GUEST_PAN)");
  client.OnBytes(R"(ICKED", "data": {"action": "pause"}})" "\r\n");
  client.OnBytes(R"({"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-panic"}})" "\n");
  client.OnBytes(R"({"event": "RESUME"})" "\n");
  client.OnBytes("this is not QMP\n{\"also\": not}\n");
  std::lock_guard lock(events.mu);
  ASSERT_EQ(events.list.size(), 3u);
  EXPECT_EQ(events.list[0].first, EZONE_EVENT_GUEST_PANICKED);
  EXPECT_EQ(events.list[0].second, R"(QMP GUEST_PANICKED {"action": "pause"})");
  EXPECT_EQ(events.list[1].first, EZONE_EVENT_GUEST_STOPPED);
  EXPECT_EQ(events.list[1].second, R"(QMP SHUTDOWN {"guest": true, "reason": "guest-panic"})");
  EXPECT_EQ(events.list[2].first, EZONE_EVENT_PLUGIN_ERROR);  // once, for two bad lines
  EXPECT_EQ(events.list[2].second, "QMP: not a JSON object: this is not QMP");
}

TEST(QmpClientTest, ACommandWithoutAnAnswerTimesOut) {
  static Events events;
  SocketPair qmp = SocketPair::Make();
  QmpClient client(qmp.plugin.get(), Recorder(&events));
  EXPECT_THROW(client.Execute("query-status", "", std::chrono::milliseconds(50)),
               std::runtime_error);  // never ready
  client.OnBytes("{\"QMP\": {}}\n{\"return\": {}, \"id\": 0}\n");
  EXPECT_THROW(client.Execute("query-status", "", std::chrono::milliseconds(50)),
               std::runtime_error);
}

// QEMU that exits (a state that does not load) ends every wait at once: a
// restore learns it in milliseconds, not at the command's timeout.
TEST(QmpClientTest, ASocketThatEndsEndsTheWaitsAtOnce) {
  static Events events;
  SocketPair qmp = SocketPair::Make();
  QmpClient client(qmp.plugin.get(), Recorder(&events));
  auto start = std::chrono::steady_clock::now();
  auto waiting = std::async(std::launch::async, [&] {
    return client.Execute("query-status", "", std::chrono::seconds(30));
  });
  client.OnClosed();
  EXPECT_THROW(waiting.get(), std::runtime_error);
  EXPECT_THROW(client.Execute("query-status", "", std::chrono::seconds(30)), std::runtime_error);
  // Far below either 30 s timeout: not a timing assertion, a "did not wait".
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

// What QEMU never writes: each is one plugin error, never an exception in
// the reader thread (issue 20 #1: `{"event":0}` once aborted the runner).
TEST(QmpClientTest, WhatIsNotQmpIsOnePluginErrorNeverAnException) {
  for (std::string_view line :
       {R"({"event":0})", "garbage", "[1,2]", "\"text\"", "{\"event\":", "{\"event\":null}"}) {
    static Events events;
    {
      std::lock_guard lock(events.mu);
      events.list.clear();
    }
    SocketPair qmp = SocketPair::Make();
    QmpClient client(qmp.plugin.get(), Recorder(&events));
    ASSERT_NO_THROW(client.OnBytes(std::string(line) + "\n" + std::string(line) + "\n")) << line;
    std::lock_guard lock(events.mu);
    ASSERT_LE(events.list.size(), 1u) << line;
    if (!events.list.empty()) EXPECT_EQ(events.list[0].first, EZONE_EVENT_PLUGIN_ERROR) << line;
  }
  // A lone surrogate and a raw 0xff in an event's data: passed on as bytes
  // (the core sanitizes what it prints), no exception.
  static Events events;
  SocketPair qmp = SocketPair::Make();
  QmpClient client(qmp.plugin.get(), Recorder(&events));
  EXPECT_NO_THROW(client.OnBytes("{\"event\":\"GUEST_PANICKED\",\"data\":{\"a\":\"\\udc00\xff\"}}\n"));
}

TEST(QmpClientTest, RepliesToIdsItNeverSentAreNotAnswers) {
  static Events events;
  SocketPair qmp = SocketPair::Make();
  QmpClient client(qmp.plugin.get(), Recorder(&events));
  client.OnBytes("{\"QMP\": {}}\n{\"return\": {}, \"id\": 0}\n");
  ReadLine(qmp.vmm.get());  // qmp_capabilities
  // Stale or forged answers for id 1 before the command is sent.
  client.OnBytes(R"({"return": "x", "id": "1"})" "\n" R"({"return": "y", "id": 1e0})" "\n"
                 R"({"return": "z", "id": -1})" "\n");
  auto status = std::async(std::launch::async, [&] { return client.Execute("query-status"); });
  EXPECT_EQ(ReadLine(qmp.vmm.get()), R"({"execute":"query-status","id":1})");
  client.OnBytes(R"({"return": {"running": true}, "id": 1})" "\n");
  EXPECT_EQ(status.get(), R"({"running": true})");
}

TEST(QmpClientTest, NestingIsBoundedButBracketsInStringsDoNotCount) {
  EXPECT_FALSE(json::Valid(R"({"data":)" + std::string(100000, '[') + std::string(100000, ']') + "}"));
  EXPECT_TRUE(json::Valid(R"({"data":{"s":")" + std::string(100, '[') + R"("}})"));
}

TEST(QmpClientTest, AnOverlongLineIsReportedOnceAndSkippedToItsEnd) {
  static Events events;
  SocketPair qmp = SocketPair::Make();
  QmpClient client(qmp.plugin.get(), Recorder(&events));
  std::string flood((1 << 20) / 2 + 1, 'x');
  for (int i = 0; i < 3; ++i) client.OnBytes(flood);
  client.OnBytes("tail\n{\"event\":\"SHUTDOWN\"}\n");
  std::lock_guard lock(events.mu);
  ASSERT_EQ(events.list.size(), 2u);
  EXPECT_EQ(events.list[0].first, EZONE_EVENT_PLUGIN_ERROR);
  EXPECT_EQ(events.list[1].first, EZONE_EVENT_GUEST_STOPPED);
}

// getfd: the descriptor travels with the command, as SCM_RIGHTS.
TEST(QmpClientTest, ADescriptorGoesAlongWithItsCommand) {
  static Events events;
  SocketPair qmp = SocketPair::Make();
  QmpClient client(qmp.plugin.get(), Recorder(&events));
  client.OnBytes("{\"QMP\": {}}\n{\"return\": {}, \"id\": 0}\n");
  ReadLine(qmp.vmm.get());
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  auto getfd = std::async(std::launch::async, [&] {
    return client.Execute("getfd", R"({"fdname": "f"})", std::chrono::seconds(10), pipefd[1]);
  });
  char buf[256];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(qmp.vmm.get(), &msg, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)),
            "{\"execute\":\"getfd\",\"arguments\":{\"fdname\": \"f\"},\"id\":1}\n");
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->cmsg_type, SCM_RIGHTS);
  int received;
  std::memcpy(&received, CMSG_DATA(c), sizeof received);
  ASSERT_EQ(write(received, "k", 1), 1);  // the same pipe
  char k = 0;
  ASSERT_EQ(read(pipefd[0], &k, 1), 1);
  EXPECT_EQ(k, 'k');
  close(received);
  close(pipefd[0]);
  close(pipefd[1]);
  client.OnBytes(R"({"return": {}, "id": 1})" "\n");
  EXPECT_EQ(getfd.get(), "{}");
}

}  // namespace
}  // namespace ezone::sdk
