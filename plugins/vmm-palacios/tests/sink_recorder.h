// An ezone_vm_sink that records what a VM reports, for tests.
#ifndef EZONE_PLUGINS_VMM_PALACIOS_TESTS_SINK_RECORDER_H_
#define EZONE_PLUGINS_VMM_PALACIOS_TESTS_SINK_RECORDER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "ezone/sdk.h"

namespace ezone::palacios::testing {

class SinkRecorder {
 public:
  SinkRecorder() : c_sink_{this, &OnConsole, &OnControl, &OnEvent} {}
  ezone::sdk::VmSink sink() const { return ezone::sdk::VmSink(c_sink_); }
  const ezone_vm_sink& c_sink() const { return c_sink_; }

  // Waits until `done` holds (checked under the lock) or `timeout` passes.
  bool WaitFor(const std::function<bool(const SinkRecorder&)>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return done(*this); });
  }
  std::string console() {
    std::lock_guard<std::mutex> l(mu_);
    return console_;
  }
  std::string control() {
    std::lock_guard<std::mutex> l(mu_);
    return control_;
  }
  std::vector<std::pair<ezone_vm_event, std::string>> events() {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }

  // Read under the lock inside WaitFor predicates.
  std::string console_;
  std::string control_;
  std::vector<std::pair<ezone_vm_event, std::string>> events_;

 private:
  static void OnConsole(void* self, const char* b, size_t n) {
    auto* s = static_cast<SinkRecorder*>(self);
    std::lock_guard<std::mutex> l(s->mu_);
    s->console_.append(b, n);
    s->cv_.notify_all();
  }
  static void OnControl(void* self, const char* b, size_t n) {
    auto* s = static_cast<SinkRecorder*>(self);
    std::lock_guard<std::mutex> l(s->mu_);
    s->control_.append(b, n);
    s->cv_.notify_all();
  }
  static void OnEvent(void* self, ezone_vm_event e, const char* detail) {
    auto* s = static_cast<SinkRecorder*>(self);
    std::lock_guard<std::mutex> l(s->mu_);
    s->events_.emplace_back(e, detail ? detail : "");
    s->cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  ezone_vm_sink c_sink_;
};

}  // namespace ezone::palacios::testing

#endif  // EZONE_PLUGINS_VMM_PALACIOS_TESTS_SINK_RECORDER_H_
