// SPDX-License-Identifier: MIT
//
// testing.layouts: the size and field offsets of every vendored kernel struct
// as this build compiled them. The static_asserts in native/uapi/ pin them at
// compile time for the build's own architecture; a prebuild cross-compiled for
// another one is checked there too, and its tests assert the same numbers from
// JS on that architecture (test/support/uapi-layouts.ts), so a layout that a
// compiler or header got wrong cannot ship unnoticed.
#include <napi.h>

#include <linux/ethtool.h>

#include <cstddef>
#include <initializer_list>
#include <utility>

#include "uapi/devmem_uapi.h"
#include "uapi/zcrx_uapi.h"

namespace devmem::js {

namespace {

using Fields = std::initializer_list<std::pair<const char*, size_t>>;

void Put(Napi::Env env, Napi::Object out, const char* name, size_t size, size_t align, Fields fields) {
  Napi::Object s = Napi::Object::New(env);
  s.Set("size", static_cast<double>(size));
  s.Set("align", static_cast<double>(align));
  Napi::Object offsets = Napi::Object::New(env);
  for (const auto& [field, offset] : fields) offsets.Set(field, static_cast<double>(offset));
  s.Set("offsets", offsets);
  out.Set(name, s);
}

#define LAYOUT(name, T, ...) Put(env, out, name, sizeof(T), alignof(T), Fields{__VA_ARGS__})
#define AT(T, f) \
  std::pair<const char*, size_t> { #f, offsetof(T, f) }

Napi::Object Layouts(Napi::Env env) {
  using namespace uapi;
  Napi::Object out = Napi::Object::New(env);
  LAYOUT("dmabuf_cmsg", DmabufCmsg, AT(DmabufCmsg, frag_offset), AT(DmabufCmsg, frag_size), AT(DmabufCmsg, frag_token),
         AT(DmabufCmsg, dmabuf_id), AT(DmabufCmsg, flags));
  LAYOUT("dmabuf_token", DmabufToken, AT(DmabufToken, token_start), AT(DmabufToken, token_count));
  LAYOUT("ethtool_rxnfc", ::ethtool_rxnfc, AT(::ethtool_rxnfc, flow_type), AT(::ethtool_rxnfc, data),
         AT(::ethtool_rxnfc, fs), AT(::ethtool_rxnfc, rule_cnt), AT(::ethtool_rxnfc, rss_context));
  LAYOUT("ethtool_rx_flow_spec", ::ethtool_rx_flow_spec, AT(::ethtool_rx_flow_spec, h_u),
         AT(::ethtool_rx_flow_spec, h_ext), AT(::ethtool_rx_flow_spec, m_u), AT(::ethtool_rx_flow_spec, m_ext),
         AT(::ethtool_rx_flow_spec, ring_cookie), AT(::ethtool_rx_flow_spec, location));
  LAYOUT("ethtool_tcpip4_spec", ::ethtool_tcpip4_spec, AT(::ethtool_tcpip4_spec, ip4dst),
         AT(::ethtool_tcpip4_spec, psrc), AT(::ethtool_tcpip4_spec, pdst), AT(::ethtool_tcpip4_spec, tos));
  LAYOUT("ethtool_tcpip6_spec", ::ethtool_tcpip6_spec, AT(::ethtool_tcpip6_spec, ip6dst),
         AT(::ethtool_tcpip6_spec, psrc), AT(::ethtool_tcpip6_spec, pdst), AT(::ethtool_tcpip6_spec, tclass));
  LAYOUT("ethtool_rxfh_indir", ::ethtool_rxfh_indir, AT(::ethtool_rxfh_indir, ring_index));
  LAYOUT("ethtool_rxfh", ::ethtool_rxfh, AT(::ethtool_rxfh, rss_context), AT(::ethtool_rxfh, indir_size),
         AT(::ethtool_rxfh, key_size), AT(::ethtool_rxfh, hfunc), AT(::ethtool_rxfh, rsvd32),
         AT(::ethtool_rxfh, rss_config));
  LAYOUT("ethtool_value", ::ethtool_value);
  LAYOUT("udmabuf_create", UdmabufCreate, AT(UdmabufCreate, offset), AT(UdmabufCreate, size));
  LAYOUT("dma_buf_sync", DmaBufSync);
  LAYOUT("dma_heap_allocation_data", DmaHeapAllocationData, AT(DmaHeapAllocationData, fd),
         AT(DmaHeapAllocationData, heap_flags));
  LAYOUT("drm_version", drm::Version, AT(drm::Version, name_len), AT(drm::Version, desc));
  LAYOUT("drm_get_cap", drm::GetCap);
  LAYOUT("drm_gem_close", drm::GemClose);
  LAYOUT("drm_prime_handle", drm::PrimeHandle, AT(drm::PrimeHandle, fd));
  LAYOUT("drm_mode_create_dumb", drm::ModeCreateDumb, AT(drm::ModeCreateDumb, handle), AT(drm::ModeCreateDumb, size));
  LAYOUT("io_uring_zcrx_rqe", ZcrxRqe);
  LAYOUT("io_uring_zcrx_cqe", ZcrxCqe);
  LAYOUT("io_uring_zcrx_offsets", ZcrxOffsets);
  LAYOUT("io_uring_zcrx_area_reg", ZcrxAreaReg, AT(ZcrxAreaReg, dmabuf_fd));
  LAYOUT("zcrx_event_desc", ZcrxEventDesc, AT(ZcrxEventDesc, stats_offset));
  LAYOUT("zcrx_stats", ZcrxStats);
  LAYOUT("io_uring_zcrx_ifq_reg", ZcrxIfqReg, AT(ZcrxIfqReg, offsets), AT(ZcrxIfqReg, zcrx_id),
         AT(ZcrxIfqReg, event_desc));
  LAYOUT("zcrx_ctrl", ZcrxCtrl);
  LAYOUT("io_uring_region_desc", RegionDesc);
  LAYOUT("io_uring_query_hdr", QueryHdr);
  LAYOUT("io_uring_query_zcrx", QueryZcrx, AT(QueryZcrx, features));
  return out;
}

#undef AT
#undef LAYOUT

}  // namespace

void InitLayoutTesting(Napi::Env env, Napi::Object testing) { testing.Set("layouts", Layouts(env)); }

}  // namespace devmem::js
