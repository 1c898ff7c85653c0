# netdevsim-pair.sh: sourced by main.sh (POSIX sh, runs in the guest chroot).
#
# setup_netdevsim_pair QUEUES [LOCAL_NETNS] creates two netdevsim devices with one port
# each, moves the ports into their own network namespaces (local LOCAL_NETNS, nsa
# by default, or the initial namespace when LOCAL_NETNS is "-"; remote nsb), links them
# back to back (what one sends, the other receives) and addresses them. On return it
# has set NS_LOCAL ("" for the initial namespace) IF_LOCAL IFINDEX_LOCAL IF_REMOTE
# IFINDEX_REMOTE.

NS_LOCAL=nsa
NS_REMOTE=nsb
ADDR4_LOCAL=10.77.1.1
ADDR4_REMOTE=10.77.1.2
ADDR6_LOCAL=fd77::1
ADDR6_REMOTE=fd77::2

# netdev_of_device ID: name of the (single) port netdev of netdevsim device ID.
# Device creation is synchronous, but the netdev registration is not: poll briefly.
netdev_of_device() {
  i=0
  while [ $i -lt 50 ]; do
    for path in /sys/bus/netdevsim/devices/netdevsim"$1"/net/*; do
      if [ -e "$path" ]; then
        basename "$path"
        return 0
      fi
    done
    sleep 0.1
    i=$((i + 1))
  done
  echo "netdevsim device $1 has no netdev after 5 s" >&2
  return 1
}

# in_netns NETNS CMD...: CMD in NETNS, or here when NETNS is "" (the initial namespace).
in_netns() {
  in_netns_name=$1
  shift
  if [ -n "$in_netns_name" ]; then ip netns exec "$in_netns_name" "$@"; else "$@"; fi
}

# configure_port NETNS IFNAME ADDR4 ADDR6 (NETNS "" leaves the port where it is)
configure_port() {
  if [ -n "$1" ]; then
    ip netns add "$1"
    ip link set "$2" netns "$1"
  fi
  in_netns "$1" ip link set lo up
  in_netns "$1" ip addr add "$3/24" dev "$2"
  # nodad: the address is usable at once instead of after duplicate detection.
  in_netns "$1" ip -6 addr add "$4/64" dev "$2" nodad
  in_netns "$1" ip link set "$2" up
}

setup_netdevsim_pair() {
  queues=$1
  case "${2:-nsa}" in
    -) NS_LOCAL= ;;
    *) NS_LOCAL=${2:-nsa} ;;
  esac
  echo "1 1 $queues" > /sys/bus/netdevsim/new_device
  echo "2 1 $queues" > /sys/bus/netdevsim/new_device
  IF_LOCAL=$(netdev_of_device 1)
  IF_REMOTE=$(netdev_of_device 2)

  configure_port "$NS_LOCAL" "$IF_LOCAL" "$ADDR4_LOCAL" "$ADDR6_LOCAL"
  configure_port "$NS_REMOTE" "$IF_REMOTE" "$ADDR4_REMOTE" "$ADDR6_REMOTE"

  IFINDEX_LOCAL=$(in_netns "$NS_LOCAL" cat "/sys/class/net/$IF_LOCAL/ifindex")
  IFINDEX_REMOTE=$(ip netns exec "$NS_REMOTE" cat "/sys/class/net/$IF_REMOTE/ifindex")

  # link_device takes "NETNS_FD:IFINDEX NETNS_FD:IFINDEX"; the fds are resolved in the
  # writing process, i.e. this shell.
  local_ns_file=/proc/self/ns/net
  if [ -n "$NS_LOCAL" ]; then local_ns_file=/run/netns/$NS_LOCAL; fi
  exec 7< "$local_ns_file" 8< "/run/netns/$NS_REMOTE"
  echo "7:$IFINDEX_LOCAL 8:$IFINDEX_REMOTE" > /sys/bus/netdevsim/link_device
  exec 7<&- 8<&-

  # RTO capped at 1 s (Linux 6.15+; older kernels lack the knob) and 150
  # retries (~150 s with the cap), so stall tests recover promptly and a slow
  # stall does not kill the stream (see docs/kernel-notes.md#tcp-backoff-after-a-stall).
  for ns in "$NS_LOCAL" "$NS_REMOTE"; do
    in_netns "$ns" sh -c 'echo 1000 > /proc/sys/net/ipv4/tcp_rto_max_ms' 2>/dev/null ||
      echo "devmem-e2e: net.ipv4.tcp_rto_max_ms not available in ${ns:-the initial netns}; TCP backoff is uncapped"
    in_netns "$ns" sh -c 'echo 150 > /proc/sys/net/ipv4/tcp_retries2'
  done

  # No deferred skb frees, so every buffer (and the binding) comes back when the
  # socket lets go of it (see docs/kernel-notes.md#deferred-skb-free). The knob
  # is global: set it here, in the initial namespace.
  echo 0 > /proc/sys/net/core/skb_defer_max 2>/dev/null ||
    echo "devmem-e2e: net.core.skb_defer_max not available; skb frees may be deferred"
}
