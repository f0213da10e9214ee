#include "palacios_guest.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "palacios_config.h"

namespace ezone::palacios {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t RoundUpPowerOfTwo(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace

PalaciosGuest::PalaciosGuest(DeviceIo& io, Paths paths, GuestRequest request,
                             ezone::sdk::VmSink sink)
    : io_(io), paths_(std::move(paths)), request_(std::move(request)), sink_(sink) {
  try {
    Start();
  } catch (...) {
    Teardown();
    throw;
  }
}

PalaciosGuest::~PalaciosGuest() { Teardown(); }

void PalaciosGuest::Start() {
  if (request_.name.empty() || request_.name.size() >= kNameLen) {
    throw std::invalid_argument("Palacios guest name must have 1 to 127 bytes");
  }
  if (pipe2(wake_, O_CLOEXEC) != 0) throw DeviceError("pipe", errno);

  control_fd_ = io_.Open(paths_.control);
  if (control_fd_ < 0) throw DeviceError("Palacios: open " + paths_.control, errno);
  EnsureMemory();

  GuestImageArg image{};
  image.size = request_.image.size();
  image.guest_data = request_.image.data();
  std::memcpy(image.name, request_.name.data(), request_.name.size());
  int index = io_.Ioctl(control_fd_, kCreateGuest, reinterpret_cast<unsigned long>(&image));
  if (index < 0) {
    // The module returns -1 for most failures (errno EPERM); its reason is
    // in the host kernel log.
    throw DeviceError("Palacios: create guest (ioctl 12 on " + paths_.control +
                          ") failed; the reason is in the host kernel log (dmesg)",
                      errno);
  }
  index_ = index;
  // The module copied the image; do not hold ~17 MB per VM for nothing.
  std::string().swap(request_.image);
  vm_fd_ = OpenVmDevice();
  // Streams before launch: the guest's first bytes wait in the stream's
  // ring, and a missing stream fails before anything ran.
  console_fd_ = ConnectStream(kConsoleStream);
  agent_fd_ = ConnectStream(kControlStream);
  if (io_.Ioctl(vm_fd_, kVmLaunch, 0) < 0) {
    throw DeviceError("Palacios: launch (ioctl 25 on " + paths_.vm_prefix +
                          std::to_string(index_) + ") failed; see the host kernel log",
                      errno);
  }
  launched_ = true;
  reader_ = std::thread([this] { ReadLoop(); });
}

void PalaciosGuest::EnsureMemory() {
  std::optional<uint64_t> free = FreePalaciosMemory(io_, paths_);
  uint64_t have = free.value_or(0);
  if (have >= request_.memory_bytes) return;
  if (!request_.add_memory) {
    throw ezone::sdk::Declined(
        "Palacios: not enough memory added to Palacios: " + std::to_string(have >> 20) +
        " MiB free in " + paths_.proc + "/v3-mem*, this guest needs " +
        std::to_string(request_.memory_bytes >> 20) +
        " MiB (add memory with v3_mem, or vmm-options add-memory=1)");
  }
  // Palacios wants a power-of-two page count at least one memory block.
  MemRegionArg region{};
  region.type = kMemRequested;
  region.node = -1;
  region.num_pages = RoundUpPowerOfTwo((request_.memory_bytes + kPageSize - 1) / kPageSize);
  if (io_.Ioctl(control_fd_, kAddMemory, reinterpret_cast<unsigned long>(&region)) < 0) {
    throw DeviceError("Palacios: add memory (ioctl 50, " + std::to_string(region.num_pages) +
                          " pages) failed",
                      errno);
  }
}

int PalaciosGuest::OpenVmDevice() {
  std::string path = paths_.vm_prefix + std::to_string(index_);
  auto deadline = Clock::now() + request_.device_node_wait;
  for (;;) {
    int fd = io_.Open(path);
    if (fd >= 0) return fd;
    int error = errno;
    if (error != ENOENT || Clock::now() >= deadline) {
      throw DeviceError("Palacios: open " + path, error);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int PalaciosGuest::ConnectStream(const char* name) {
  // The module copies exactly 128 bytes.
  char arg[kNameLen] = {0};
  std::strncpy(arg, name, kNameLen - 1);
  int fd = io_.Ioctl(vm_fd_, kVmStreamConnect, reinterpret_cast<unsigned long>(arg));
  if (fd < 0) {
    throw DeviceError(std::string("Palacios: connect stream ") + name + " (ioctl 21 on " +
                          paths_.vm_prefix + std::to_string(index_) + ") failed",
                      errno);
  }
  return fd;
}

void PalaciosGuest::SendControl(std::string_view bytes) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  auto deadline = Clock::now() + request_.write_timeout;
  while (!bytes.empty()) {
    ssize_t n = write(agent_fd_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // Palacios answers EWOULDBLOCK while the guest UART's buffer is full.
    if ((n == 0 || errno == EAGAIN) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    throw DeviceError("Palacios: writing to the com2 stream",
                      n == 0 || errno == EAGAIN ? ETIMEDOUT : errno);
  }
}

void PalaciosGuest::ReadLoop() {
  std::array<int, 2> streams = {console_fd_, agent_fd_};
  char buf[4096];
  auto next_state = Clock::now() + request_.state_period;
  for (;;) {
    std::array<pollfd, 3> fds = {
        {{streams[0], POLLIN, 0}, {streams[1], POLLIN, 0}, {wake_[0], POLLIN, 0}}};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_state - Clock::now());
    int n = poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(0, left.count())));
    if (n < 0 && errno != EINTR) return;
    if (fds[2].revents) return;  // Teardown asked us to stop
    for (size_t i = 0; i < streams.size() && n > 0; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(streams[i], buf, sizeof buf);
      if (got > 0) {
        std::string_view bytes(buf, static_cast<size_t>(got));
        if (i == 0) {
          sink_.Console(bytes);
        } else {
          sink_.Control(bytes);
        }
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        streams[i] = -1;  // ended: leave it out of poll
      }
    }
    if (Clock::now() >= next_state) {
      CheckState();
      next_state = Clock::now() + request_.state_period;
    }
  }
}

void PalaciosGuest::CheckState() {
  if (stop_reported_) return;
  std::string state = GuestState(io_, paths_, index_);
  if (state == "running" || state == "paused" || state == "simulating" || state == "resetting") {
    return;
  }
  stop_reported_ = true;
  std::string device = paths_.vm_prefix + std::to_string(index_);
  sink_.Event(EZONE_EVENT_GUEST_STOPPED,
              state.empty() ? "Palacios no longer lists " + device + " in " + paths_.proc + "/v3-guests"
                            : "Palacios reports " + device + " " + state);
}

void PalaciosGuest::Teardown() noexcept {
  if (reader_.joinable()) {
    char byte = 1;
    (void)!write(wake_[1], &byte, 1);
    reader_.join();
  }
  std::string device = paths_.vm_prefix + std::to_string(index_);
  if (launched_) {
    // A paused VM cannot be stopped, and a VM that is not stopped (or in
    // error) cannot be freed. One that ended by itself needs no stop.
    std::string state = GuestState(io_, paths_, index_);
    if (state == "paused") io_.Ioctl(vm_fd_, kVmContinue, 0);
    if (state != "stopped" && state != "ERROR" && io_.Ioctl(vm_fd_, kVmStop, 0) < 0) {
      sink_.Event(EZONE_EVENT_NOTE, "Palacios: stop (ioctl 26 on " + device +
                                        ") failed: " + std::strerror(errno));
    }
    launched_ = false;
  }
  // Free releases the streams' kernel state: their fds must be closed first.
  for (int* fd : {&console_fd_, &agent_fd_, &vm_fd_}) {
    if (*fd >= 0) io_.Close(*fd);
    *fd = -1;
  }
  if (index_ >= 0) {
    if (io_.Ioctl(control_fd_, kFreeGuest, static_cast<unsigned long>(index_)) < 0) {
      sink_.Event(EZONE_EVENT_NOTE, "Palacios: free guest " + std::to_string(index_) +
                                        " (ioctl 13) failed: " + std::strerror(errno) +
                                        "; it may still be listed in " + paths_.proc +
                                        "/v3-guests");
    }
    index_ = -1;
  }
  if (control_fd_ >= 0) io_.Close(control_fd_);
  control_fd_ = -1;
  for (int& fd : wake_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

}  // namespace ezone::palacios
