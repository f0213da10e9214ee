// Helpers shared by the kvm plugin's tests: the real libvirtd, the plugin as
// the core loads it, the domains it leaves (or must not leave) behind.
#ifndef EZONE_PLUGINS_VMM_KVM_TESTS_KVM_TEST_UTIL_H_
#define EZONE_PLUGINS_VMM_KVM_TESTS_KVM_TEST_UTIL_H_

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <unistd.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "ezone/plugin_abi.h"
#include "ezone_test_support.h"
#include "kvm_domain.h"

namespace ezone::kvm::testing {

// A connection to the real daemon, or a test failure that says how to get
// one. Only a host without the daemon package skips (GTEST_SKIP in caller).
inline bool LibvirtdInstalled() { return access("/usr/sbin/libvirtd", X_OK) == 0; }

#define EZONE_REQUIRE_LIBVIRTD(var)                                                    \
  if (!::ezone::kvm::testing::LibvirtdInstalled()) {                                    \
    GTEST_SKIP() << "libvirt daemon not installed (apt-get install libvirt-daemon-system)"; \
  }                                                                                     \
  ::ezone::kvm::ConnectResult var = ::ezone::kvm::Connect(::ezone::kvm::kDefaultUri);  \
  ASSERT_NE(var.conn, nullptr) << var.error << " (scripts/check starts it; "          \
                                   "by hand: scripts/start-libvirtd)";

// Names of the domains libvirtd knows (running or defined) that start with
// `prefix`: what `virsh list --all` would show.
inline std::vector<std::string> DomainsNamed(virConnectPtr conn, const std::string& prefix) {
  std::vector<std::string> names;
  virDomainPtr* domains = nullptr;
  int n = virConnectListAllDomains(conn, &domains, 0);
  for (int i = 0; i < n; ++i) {
    const char* name = virDomainGetName(domains[i]);
    if (name && std::string(name).rfind(prefix, 0) == 0) names.push_back(name);
    virDomainFree(domains[i]);
  }
  free(domains);
  return names;
}

// Waits up to 15 s until no domain named `prefix`... exists and the process
// `vmm_pid` (if > 0) is gone: what must follow a killed runner.
inline bool DomainsGoneWithin15s(virConnectPtr conn, const std::string& prefix, int vmm_pid) {
  for (int i = 0; i < 150; ++i) {
    if (DomainsNamed(conn, prefix).empty() && (vmm_pid <= 0 || kill(vmm_pid, 0) != 0)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// A runner SIGKILLed once its check is observing, and what ran at that
// moment: its output so far, its VMM's pid and its domains.
struct KilledRunner {
  std::string text;
  int vmm_pid = 0;
  std::string prefix;                // its domains' names start with this
  std::vector<std::string> running;  // those domains just before the kill
};

inline KilledRunner KillWhileObserving(testing_support::Runner& r, virConnectPtr conn) {
  KilledRunner k;
  testing_support::ReadUntil(r, ": observing", &k.text);
  k.vmm_pid = testing_support::VmmPidIn(k.text);
  k.prefix = "ezone-" + std::to_string(r.pid) + "-";
  k.running = DomainsNamed(conn, k.prefix);
  kill(r.pid, SIGKILL);
  waitpid(r.pid, nullptr, 0);
  close(r.out);
  return k;
}

// The plugin, loaded as the core loads it (RTLD_LOCAL, through its entry).
class LoadedPlugin {
 public:
  LoadedPlugin() {
    handle_ = dlopen(EZONE_KVM_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (!handle_) return;
    auto entry = reinterpret_cast<ezone_plugin_entry_fn>(dlsym(handle_, EZONE_PLUGIN_ENTRY_SYMBOL));
    if (entry) descriptor_ = entry(EZONE_PLUGIN_ABI_MAJOR);
  }
  // Never dlclose: the plugin's event-loop thread lives with the process.
  const ezone_plugin_descriptor* descriptor() const { return descriptor_; }

  ezone_status Probe(const std::string& options, std::string* message) const {
    char msg[2048] = {0};
    ezone_status status = descriptor_->vmm->probe(options.c_str(), msg, sizeof msg);
    *message = msg;
    return status;
  }

 private:
  void* handle_ = nullptr;
  const ezone_plugin_descriptor* descriptor_ = nullptr;
};

}  // namespace ezone::kvm::testing

#endif  // EZONE_PLUGINS_VMM_KVM_TESTS_KVM_TEST_UTIL_H_
