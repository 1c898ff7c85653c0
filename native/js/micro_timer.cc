// SPDX-License-Identifier: MIT
#include "js/micro_timer.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace devmem::js {

std::unique_ptr<MicroTimer> MicroTimer::Make(Napi::Env env, std::function<void()> on_fire,
                                             std::function<void()> on_js_gone) {
  int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return nullptr;
  std::unique_ptr<MicroTimer> t(new MicroTimer());
  MicroTimer* self = t.get();
  t->on_fire_ = std::move(on_fire);
  t->poller_ = MakeEnvPoller(
      env, fd, [self](int, int) { self->OnReady(); }, std::move(on_js_gone));
  t->poller_->Watch(UV_READABLE);
  t->poller_->Unref();
  return t;
}

MicroTimer::~MicroTimer() { poller_->Close(); }  // closes the timerfd; idempotent

void MicroTimer::Close() {
  poller_->Close();
  armed_ = false;
}

int MicroTimer::Arm(uint32_t us) {
  if (poller_->Closed()) return EBADF;
  itimerspec spec{};
  spec.it_value.tv_sec = us / 1000000;
  spec.it_value.tv_nsec = static_cast<long>(us % 1000000) * 1000;
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;  // 0 would disarm
  if (::timerfd_settime(poller_->Fd(), 0, &spec, nullptr) != 0) return errno;
  armed_ = true;
  if (refd_) poller_->Ref();
  return 0;
}

void MicroTimer::Ref() {
  refd_ = true;
  if (armed_) poller_->Ref();
}

void MicroTimer::Unref() {
  refd_ = false;
  poller_->Unref();
}

void MicroTimer::OnReady() {
  uint64_t expirations = 0;
  // Level-triggered: reading the count is what stops the fd being readable.
  if (::read(poller_->Fd(), &expirations, sizeof expirations) != sizeof expirations) return;
  armed_ = false;
  poller_->Unref();
  on_fire_();
}

}  // namespace devmem::js
