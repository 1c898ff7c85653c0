// SPDX-License-Identifier: MIT
#include "js/uv_poller.h"

#include <unistd.h>

namespace devmem::js {

UvPoller::UvPoller(uv_loop_t* loop, int fd, Callback cb) : handle_(new uv_poll_t), fd_(fd), cb_(std::move(cb)) {
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
  refed_ = true;
  if (handle_) uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
}

void UvPoller::Unref() {
  refed_ = false;
  if (handle_) uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
}

void UvPoller::Close() {
  if (!handle_) return;
  uv_poll_stop(handle_);
  handle_->data = reinterpret_cast<void*>(static_cast<intptr_t>(fd_));
  uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) {
    ::close(static_cast<int>(reinterpret_cast<intptr_t>(h->data)));
    delete reinterpret_cast<uv_poll_t*>(h);
  });
  handle_ = nullptr;
  fd_ = -1;
  events_ = 0;
}

}  // namespace devmem::js
