// SPDX-License-Identifier: MIT
#include "gpu/drm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/reasons.h"
#include "common/unique_fd.h"
#include "uapi/devmem_uapi.h"

namespace devmem::gpu {

namespace drm = uapi::drm;
static_assert(drm::kCloexec == O_CLOEXEC && drm::kRdwr == O_RDWR);

namespace {

constexpr const char kDriDir[] = "/dev/dri";
// Dumb buffers are sized in pixels: rows of 1024 32-bit pixels are one 4 KiB
// page each, which every driver's pitch alignment accepts.
constexpr uint32_t kRowPixels = 1024;
constexpr uint32_t kBitsPerPixel = 32;
constexpr uint64_t kRowBytes = kRowPixels * kBitsPerPixel / 8;

int Ioctl(int fd, unsigned long request, void* arg) {
  int r;
  do r = ::ioctl(fd, request, arg);
  while (r < 0 && (errno == EINTR || errno == EAGAIN));
  return r;
}

std::string DriverName(int fd) {
  char name[64] = {};
  drm::Version v{};
  v.name_len = sizeof(name) - 1;
  v.name = reinterpret_cast<uint64_t>(name);
  if (Ioctl(fd, drm::kIoctlVersion, &v) < 0) return "";
  return std::string(name, strnlen(name, sizeof(name) - 1));
}

bool IsRenderNode(const std::string& path) { return path.find("/renderD") != std::string::npos; }

// Card nodes first (only they can create dumb buffers), each kind by number.
bool NodeOrder(const std::string& a, const std::string& b) {
  bool ra = IsRenderNode(a), rb = IsRenderNode(b);
  if (ra != rb) return !ra;
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

std::vector<std::string> NodePaths() {
  std::vector<std::string> out;
  DIR* d = ::opendir(kDriDir);
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind("card", 0) == 0 || n.rfind("renderD", 0) == 0) out.push_back(std::string(kDriDir) + "/" + n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), NodeOrder);
  return out;
}

// The card node beside a render node (same device), for the error message.
std::string CardBeside(const std::string& render) {
  std::string base = render.substr(render.rfind('/') + 1);
  std::string dir = "/sys/class/drm/" + base + "/device/drm";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return "";
  std::string card;
  while (dirent* e = ::readdir(d))
    if (std::strncmp(e->d_name, "card", 4) == 0) card = std::string(kDriDir) + "/" + e->d_name;
  ::closedir(d);
  return card;
}

// One node: create, export, close the handle. `f` says why not.
bool AllocOn(const std::string& node, uint64_t size, DrmBuffer* out, Failure* f) {
  UniqueFd dev(::open(node.c_str(), O_RDWR | O_CLOEXEC));
  if (!dev.Valid()) {
    int e = errno;
    *f = {e, "open", "cannot open " + node, std::nullopt, e == ENOENT ? reasons::kNoDrm : ""};
    return false;
  }
  std::string driver = DriverName(dev.Get());
  uint64_t rows = (size + kRowBytes - 1) / kRowBytes;
  if (rows > UINT32_MAX) {
    *f = {EINVAL, "ioctl", "a dumb buffer of " + std::to_string(size) + " bytes is too tall for DRM", std::nullopt, ""};
    return false;
  }
  drm::ModeCreateDumb create{};
  create.height = static_cast<uint32_t>(rows);
  create.width = kRowPixels;
  create.bpp = kBitsPerPixel;
  if (Ioctl(dev.Get(), drm::kIoctlModeCreateDumb, &create) < 0) {
    int e = errno;
    std::string why = "DRM_IOCTL_MODE_CREATE_DUMB on " + node + " (" + (driver.empty() ? "?" : driver) + ") failed";
    if (e == EACCES && IsRenderNode(node)) {
      std::string card = CardBeside(node);
      why += ": render nodes cannot create dumb buffers; use the card node" + (card.empty() ? "" : " " + card);
    } else if (e == ENOSYS || e == EOPNOTSUPP) {
      why += ": the " + driver + " driver has no dumb buffers";
    }
    *f = {e, "ioctl", why, std::nullopt, ""};
    return false;
  }
  drm::PrimeHandle prime{create.handle, drm::kCloexec | drm::kRdwr, -1};
  int prime_rc = Ioctl(dev.Get(), drm::kIoctlPrimeHandleToFd, &prime);
  int prime_errno = errno;
  // The dma-buf holds its own reference to the GEM object; the handle is not needed either way.
  drm::GemClose close_handle{create.handle, 0};
  Ioctl(dev.Get(), drm::kIoctlGemClose, &close_handle);
  if (prime_rc < 0) {
    *f = {prime_errno, "ioctl", "DRM_IOCTL_PRIME_HANDLE_TO_FD on " + node + " (" + driver + ") failed", std::nullopt,
          ""};
    return false;
  }
  out->fd = prime.fd;
  out->size = create.size;
  out->node = node;
  out->driver = driver;
  return true;
}

}  // namespace

std::vector<DrmNode> ListDrmNodes() {
  std::vector<DrmNode> out;
  for (const std::string& path : NodePaths()) {
    DrmNode n;
    n.path = path;
    n.render = IsRenderNode(path);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.Valid()) {
      n.readable = true;
      n.driver = DriverName(fd.Get());
      drm::GetCap cap{drm::kCapDumbBuffer, 0};
      if (Ioctl(fd.Get(), drm::kIoctlGetCap, &cap) == 0) n.dumb_buffers = cap.value ? 1 : 0;
    }
    out.push_back(std::move(n));
  }
  return out;
}

bool AllocDrm(const std::string& node, uint64_t size, DrmBuffer* out, Failure* f) {
  if (!node.empty()) return AllocOn(node, size, out, f);
  std::vector<std::string> cards;
  for (const std::string& p : NodePaths())
    if (!IsRenderNode(p)) cards.push_back(p);
  if (cards.empty()) {
    *f = {ENOENT, "open", "no DRM card node in /dev/dri", std::nullopt, reasons::kNoDrm};
    return false;
  }
  std::string tried;
  for (const std::string& card : cards) {
    Failure one;
    if (AllocOn(card, size, out, &one)) return true;
    tried += (tried.empty() ? "" : "; ") + one.message + ": " + std::strerror(one.errnum);
    *f = one;
  }
  f->message = "no DRM card node could make and export a dumb buffer (" + tried + ")";
  f->reason = reasons::kNoDrm;
  return false;
}

}  // namespace devmem::gpu
