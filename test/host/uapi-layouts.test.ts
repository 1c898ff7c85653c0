import * as assert from 'node:assert/strict';
import { native } from '../../lib/native';

// The kernel's layouts of the structs native/uapi/ restates (include/uapi/
// linux/{uio,ethtool,udmabuf,dma-buf,dma-heap,io_uring}.h, drm/drm{,_mode}.h),
// the same numbers its static_asserts pin at compile time. Here they are read
// back from the loaded addon, so the check also runs on an architecture the
// addon was cross-compiled for (the arm64 prebuild, test/host/package-arm64).
// Every struct is 64-bit LP64 with natural alignment on each architecture
// devmem-tcp ships for.
type Layout = { size: number; align: number; offsets: Record<string, number> };
const L = (size: number, align: number, offsets: Record<string, number> = {}): Layout => ({ size, align, offsets });

const KERNEL_LAYOUTS: Record<string, Layout> = {
  dmabuf_cmsg: L(24, 8, { frag_offset: 0, frag_size: 8, frag_token: 12, dmabuf_id: 16, flags: 20 }),
  dmabuf_token: L(8, 4, { token_start: 0, token_count: 4 }),
  ethtool_rxnfc: L(192, 8, { flow_type: 4, data: 8, fs: 16, rule_cnt: 184, rss_context: 184 }),
  ethtool_rx_flow_spec: L(168, 8, { h_u: 4, h_ext: 56, m_u: 76, m_ext: 128, ring_cookie: 152, location: 160 }),
  ethtool_tcpip4_spec: L(16, 4, { ip4dst: 4, psrc: 8, pdst: 10, tos: 12 }),
  ethtool_tcpip6_spec: L(40, 4, { ip6dst: 16, psrc: 32, pdst: 34, tclass: 36 }),
  ethtool_rxfh_indir: L(8, 4, { ring_index: 8 }),
  ethtool_rxfh: L(24, 4, { rss_context: 4, indir_size: 8, key_size: 12, hfunc: 16, rsvd32: 20, rss_config: 24 }),
  ethtool_value: L(8, 4),
  udmabuf_create: L(24, 8, { offset: 8, size: 16 }),
  dma_buf_sync: L(8, 8),
  dma_heap_allocation_data: L(24, 8, { fd: 8, heap_flags: 16 }),
  drm_version: L(64, 8, { name_len: 16, desc: 56 }),
  drm_get_cap: L(16, 8),
  drm_gem_close: L(8, 4),
  drm_prime_handle: L(12, 4, { fd: 8 }),
  drm_mode_create_dumb: L(32, 8, { handle: 16, size: 24 }),
  io_uring_zcrx_rqe: L(16, 8),
  io_uring_zcrx_cqe: L(16, 8),
  io_uring_zcrx_offsets: L(32, 8),
  io_uring_zcrx_area_reg: L(48, 8, { dmabuf_fd: 28 }),
  zcrx_event_desc: L(96, 8, { stats_offset: 16 }),
  zcrx_stats: L(16, 8),
  io_uring_zcrx_ifq_reg: L(96, 8, { offsets: 32, zcrx_id: 64, event_desc: 72 }),
  zcrx_ctrl: L(72, 8),
  io_uring_region_desc: L(64, 8),
  io_uring_query_hdr: L(40, 8),
  io_uring_query_zcrx: L(40, 8, { features: 20 }),
};

describe(`vendored kernel struct layouts, as the ${process.arch} addon compiled them`, () => {
  it('every struct the addon reports is one the kernel defines, and none is missing', () => {
    assert.deepEqual(Object.keys(native().testing.layouts).sort(), Object.keys(KERNEL_LAYOUTS).sort());
  });

  for (const [name, want] of Object.entries(KERNEL_LAYOUTS)) {
    it(`struct ${name}: ${want.size} bytes, ${want.align}-aligned, fields where the kernel has them`, () => {
      assert.deepEqual(native().testing.layouts[name], want);
    });
  }
});
