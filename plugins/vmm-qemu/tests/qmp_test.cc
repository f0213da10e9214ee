// QMP lines -> typed messages (qmp.cc), on QEMU's real messages and on what
// QEMU never writes.
#include <gtest/gtest.h>

#include <string>

#include "qmp.h"

namespace ezone::qemu {
namespace {

using Kind = QmpMessage::Kind;

TEST(QmpTest, ReadsQemusMessages) {
  EXPECT_EQ(ParseQmpLine(R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}}, "capabilities": ["oob"]}})")
                .kind,
            Kind::kGreeting);
  QmpMessage reply = ParseQmpLine(R"({"return": {"status": "running", "running": true}, "id": 3})");
  EXPECT_EQ(reply.kind, Kind::kReply);
  EXPECT_EQ(reply.id, 3);
  EXPECT_TRUE(reply.reply["return"]["running"].get<bool>());
  QmpMessage panicked = ParseQmpLine(
      R"({"timestamp": {"seconds": 1, "microseconds": 2}, "event": "GUEST_PANICKED", "data": {"action": "pause"}})");
  EXPECT_EQ(panicked.kind, Kind::kPanicked);
  EXPECT_EQ(panicked.detail, R"({"action":"pause"})");
  EXPECT_EQ(ParseQmpLine(R"({"event": "SHUTDOWN"})").detail, "{}");
  EXPECT_EQ(ParseQmpLine(R"({"event": "RESUME", "data": {}})").kind, Kind::kIgnored);
  EXPECT_EQ(ParseQmpLine("").kind, Kind::kIgnored);
}

// Issue 20 #1: `{"event":0}` threw in the reader thread and aborted the runner.
TEST(QmpTest, AnEventThatIsNotAStringIsInvalidNotAnException) {
  QmpMessage m;
  ASSERT_NO_THROW(m = ParseQmpLine(R"({"event":0})"));
  EXPECT_EQ(m.kind, Kind::kInvalid);
  EXPECT_NE(m.error.find("\"event\" is not a string"), std::string::npos) << m.error;
}

TEST(QmpTest, WhatIsNotQmpIsInvalid) {
  for (std::string_view line : {"garbage", "[1,2]", "\"text\"", "{\"event\":", "{\"event\":null}"}) {
    EXPECT_EQ(ParseQmpLine(line).kind, Kind::kInvalid) << line;
  }
  // Replies to ids the plugin never sent are not its answers.
  EXPECT_EQ(ParseQmpLine(R"({"return": {}, "id": "x"})").kind, Kind::kIgnored);
  EXPECT_EQ(ParseQmpLine(R"({"return": {}, "id": -1})").kind, Kind::kIgnored);
  EXPECT_EQ(ParseQmpLine(R"({"return": {}, "id": 1e300})").kind, Kind::kIgnored);
}

TEST(QmpTest, DeepNestingIsRefusedBeforeParsing) {
  std::string deep = R"({"event":"SHUTDOWN","data":)" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  EXPECT_EQ(ParseQmpLine(deep).kind, Kind::kInvalid);
  // Brackets inside strings do not count.
  std::string quoted = R"({"event":"SHUTDOWN","data":{"s":")" + std::string(100, '[') + R"("}})";
  EXPECT_EQ(ParseQmpLine(quoted).kind, Kind::kShutdown);
}

TEST(QmpTest, InvalidUtf8IsInvalidNotAnException) {
  QmpMessage m = ParseQmpLine("{\"event\":\"GUEST_PANICKED\",\"data\":{\"a\":\"\\udc00\xff\"}}");
  // nlohmann rejects the raw 0xff at parse time: invalid, but no exception.
  EXPECT_EQ(m.kind, Kind::kInvalid);
}

TEST(QmpStreamTest, SplitsLinesAcrossChunksAndBoundsMemory) {
  QmpStream stream;
  EXPECT_TRUE(stream.Feed(R"({"event":"SHUT)").empty());
  auto out = stream.Feed("DOWN\"}\r\n{\"QMP\":{}}\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, Kind::kShutdown);
  EXPECT_EQ(out[1].kind, Kind::kGreeting);

  std::string flood(QmpStream::kMaxLine / 2 + 1, 'x');
  EXPECT_TRUE(stream.Feed(flood).empty());
  out = stream.Feed(flood);  // over the cap: reported once
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Kind::kInvalid);
  EXPECT_TRUE(stream.Feed(flood).empty());  // the rest of that line is skipped
  out = stream.Feed("tail\n{\"event\":\"SHUTDOWN\"}\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Kind::kShutdown);
}

}  // namespace
}  // namespace ezone::qemu
