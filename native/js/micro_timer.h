// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_MICRO_TIMER_H_
#define DEVMEM_TCP_JS_MICRO_TIMER_H_

#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "js/uv_poller.h"

namespace devmem::js {

// A one-shot timer of microseconds on the loop of `env`: a timerfd watched
// by a UvPoller, since libuv's own timers count whole milliseconds. The fd
// stays registered with epoll for the timer's life (arming costs one
// timerfd_settime, firing one read); the handle keeps the loop alive only
// while armed, and not at all while Unref()ed.
class MicroTimer {
 public:
  // Returns null, with errno set, if the timerfd cannot be made.
  static std::unique_ptr<MicroTimer> Make(Napi::Env env, std::function<void()> on_fire,
                                          std::function<void()> on_js_gone);
  ~MicroTimer();
  MicroTimer(const MicroTimer&) = delete;
  MicroTimer& operator=(const MicroTimer&) = delete;

  // Fires once, `us` microseconds from now. Returns 0 or an errno.
  int Arm(uint32_t us);
  void Ref();
  void Unref();
  // Closes the timerfd now; the object may be inside its own callback, so it
  // lives on until its owner drops it (as the socket's own poller does).
  void Close();

 private:
  MicroTimer() = default;
  void OnReady();

  std::unique_ptr<UvPoller> poller_;
  std::function<void()> on_fire_;
  bool armed_ = false;
  bool refd_ = true;
};

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_MICRO_TIMER_H_
