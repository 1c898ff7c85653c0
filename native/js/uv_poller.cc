// SPDX-License-Identifier: MIT
#include "js/uv_poller.h"

#include <unistd.h>

#include <cstdlib>
#include <new>

namespace devmem::js {

// malloc, not new: the handle is freed by libc's free() as its close callback.
UvPoller::UvPoller(uv_loop_t* loop, int fd, Callback cb)
    : handle_(static_cast<uv_poll_t*>(std::malloc(sizeof(uv_poll_t)))), fd_(fd), cb_(std::move(cb)) {
  if (!handle_) throw std::bad_alloc();
  uv_poll_init(loop, handle_, fd);
  handle_->data = this;
}

UvPoller::~UvPoller() { Close(); }

void UvPoller::OnPoll(uv_poll_t* h, int status, int events) {
  auto* self = static_cast<UvPoller*>(h->data);
  if (self) self->cb_(status, events);
}

void UvPoller::Watch(int events) {
  if (!handle_ || events == events_) return;
  events_ = events;
  if (events) uv_poll_start(handle_, events, OnPoll);
  else uv_poll_stop(handle_);
}

void UvPoller::Ref() {
  if (handle_) uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
}

void UvPoller::Unref() {
  if (handle_) uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
}

void UvPoller::Close() {
  if (!handle_) return;
  uv_poll_stop(handle_);  // removes the fd from epoll at once
  ::close(fd_);
  handle_->data = nullptr;
  // The close callback may run after this addon is unloaded: a worker that
  // was the only user of the addon closes its handles during teardown, Node
  // dlclose()s the addon, and only then does the worker's loop finish the
  // closes. A callback in this library's code would jump into unmapped
  // memory (seen as a SIGSEGV in uv__finish_close), so libc's free() is the
  // callback; it has the same calling convention as uv_close_cb.
  uv_close(reinterpret_cast<uv_handle_t*>(handle_),
           reinterpret_cast<uv_close_cb>(reinterpret_cast<void (*)()>(&std::free)));
  handle_ = nullptr;
  fd_ = -1;
  events_ = 0;
}

std::unique_ptr<UvPoller> MakeEnvPoller(Napi::Env env, int fd, UvPoller::Callback on_ready,
                                        std::function<void()> on_js_gone) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  return std::make_unique<UvPoller>(
      loop, fd, [on_ready = std::move(on_ready), on_js_gone = std::move(on_js_gone)](int status, int events) {
        try {
          on_ready(status, events);
        } catch (const Napi::Error&) {
          on_js_gone();
        }
      });
}

}  // namespace devmem::js
