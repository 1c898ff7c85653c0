// SPDX-License-Identifier: MIT
//
// Loading a GPU vendor's library at run time: the addon never links one, so
// a host without it builds and runs, and every call then fails with a reason.
#ifndef DEVMEM_TCP_GPU_DL_H_
#define DEVMEM_TCP_GPU_DL_H_

#include <dlfcn.h>

#include <string>

namespace devmem::gpu {

// dlopen(name), resolved now and kept to itself; nullptr with *error saying why.
inline void* OpenLibrary(const char* name, std::string* error) {
  void* lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = ::dlerror();
    *error = e ? e : "dlopen failed";
  }
  return lib;
}

// A vendor library's entry points once loaded: `ok` false says why in `error`.
template <typename Api>
struct LoadedLibrary {
  Api api{};
  bool ok = false;
  std::string error;
};

// One entry point; the first one missing is named in *missing.
template <typename Fn>
void Symbol(void* lib, const char* name, Fn* out, std::string* missing) {
  *out = reinterpret_cast<Fn>(::dlsym(lib, name));
  if (!*out && missing->empty()) *missing = name;
}

}  // namespace devmem::gpu

#endif  // DEVMEM_TCP_GPU_DL_H_
