{
  "variables": {
    "liburing%": "<!(node scripts/find-liburing.cjs)"
  },
  "targets": [
    {
      "target_name": "devmem_tcp",
      "sources": [
        "native/addon.cc",
        "native/dmabuf/alloc.cc",
        "native/dmabuf/mapping.cc",
        "native/ethtool/ioctl.cc",
        "native/ethtool/ntuple.cc",
        "native/ethtool/rss.cc",
        "native/gpu/cuda.cc",
        "native/gpu/drm.cc",
        "native/gpu/rocm.cc",
        "native/js/binding_object.cc",
        "native/js/codec.cc",
        "native/js/gpu_exports.cc",
        "native/js/layout_testing.cc",
        "native/js/device_watch.cc",
        "native/js/dmabuf_exports.cc",
        "native/js/errors.cc",
        "native/js/ethtool_exports.cc",
        "native/js/netlink_exports.cc",
        "native/js/rx_testing.cc",
        "native/js/server_object.cc",
        "native/js/socket_connect.cc",
        "native/js/socket_object.cc",
        "native/js/socket_receive.cc",
        "native/js/micro_timer.cc",
        "native/js/socket_transmit.cc",
        "native/js/uv_poller.cc",
        "native/js/zcrx_object.cc",
        "native/net/address.cc",
        "native/net/incoming_napi.cc",
        "native/rx/fragments.cc",
        "native/rx/replay_source.cc",
        "native/rx/rx_area.cc",
        "native/rx/token_ledger.cc",
        "native/rx/token_release.cc",
        "native/netlink/device_events.cc",
        "native/netlink/family.cc",
        "native/netlink/netns.cc",
        "native/netlink/reply.cc",
        "native/netlink/request.cc",
        "native/netlink/socket.cc",
        "native/netlink/spec.cc",
        "native/netlink/transact.cc",
        "native/zcrx/hub.cc",
        "native/zcrx/ring.cc"
      ],
      "include_dirs": ["native"],
      "libraries": ["-ldl"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-fstack-protector-strong"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }],
        ["liburing!=''", {
          "defines": ["DEVMEM_HAVE_LIBURING=1"],
          "cflags_cc": ["-idirafter", "<(module_root_dir)/native/uapi/compat"],
          "libraries": ["<(liburing)"]
        }]
      ]
    }
  ]
}
