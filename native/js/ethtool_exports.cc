// SPDX-License-Identifier: MIT
#include <napi.h>

#include "ethtool/ioctl.h"
#include "js/errors.h"

namespace devmem::js {

namespace {

// driverInfo(ifname) -> { driver, version, firmwareVersion, busInfo }
Napi::Value DriverInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "ifname must be a string");
  ethtool::DriverInfo di;
  Failure f;
  if (!ethtool::GetDriverInfo(info[0].As<Napi::String>().Utf8Value(), &di, &f)) throw MakeError(env, f);
  Napi::Object o = Napi::Object::New(env);
  o.Set("driver", di.driver);
  o.Set("version", di.version);
  o.Set("firmwareVersion", di.firmware_version);
  o.Set("busInfo", di.bus_info);
  return o;
}

}  // namespace

void InitEthtool(Napi::Env env, Napi::Object exports) {
  exports.Set("ethtoolDriverInfo", Napi::Function::New(env, DriverInfo, "ethtoolDriverInfo"));
}

}  // namespace devmem::js
