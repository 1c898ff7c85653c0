// SPDX-License-Identifier: MIT
#ifndef DEVMEM_TCP_JS_UV_POLLER_H_
#define DEVMEM_TCP_JS_UV_POLLER_H_

#include <napi.h>
#include <uv.h>

#include <functional>
#include <memory>

namespace devmem::js {

// One uv_poll_t watching one fd, on the loop of the environment that created
// it (so worker threads work). libuv forbids two poll handles on one fd and
// closing the fd while its handle is active; it allows closing it right
// after uv_poll_stop(), which is what Close() does, so the fd is gone the
// moment the owner closes, even if the loop never runs again.
class UvPoller {
 public:
  using Callback = std::function<void(int status, int events)>;

  UvPoller(uv_loop_t* loop, int fd, Callback cb);
  ~UvPoller();
  UvPoller(const UvPoller&) = delete;
  UvPoller& operator=(const UvPoller&) = delete;

  // Watches exactly `events` (UV_READABLE | UV_WRITABLE ...); 0 stops.
  void Watch(int events);
  // libuv stopped the handle by itself (POLLERR): the next Watch() restarts it.
  void Forget() { events_ = 0; }
  void Ref();
  void Unref();
  // Stops watching and closes the handle, then the fd. Idempotent.
  void Close();
  bool Closed() const { return handle_ == nullptr; }
  int Fd() const { return fd_; }

 private:
  static void OnPoll(uv_poll_t* h, int status, int events);

  uv_poll_t* handle_;
  int fd_;
  int events_ = 0;
  Callback cb_;
};

// A poller on the loop of `env` (the main thread's or a worker's). Nothing
// below a libuv callback catches a C++ exception, and node-addon-api throws
// one when the environment can no longer run JS (a worker being terminated
// mid-transfer): `on_ready` runs guarded, and `on_js_gone` runs instead of
// std::terminate.
std::unique_ptr<UvPoller> MakeEnvPoller(Napi::Env env, int fd, UvPoller::Callback on_ready,
                                        std::function<void()> on_js_gone);

}  // namespace devmem::js

#endif  // DEVMEM_TCP_JS_UV_POLLER_H_
