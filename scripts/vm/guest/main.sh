#!/bin/sh
# main.sh: the guest side of `npm run test:vm`, run by the guest's PID 1 (pid1.sh)
# in the host's root share, i.e. with the host's own tools, node and repository.
#
# Reads the job (mode, repo path, node binary, mocha --grep) from /run/devmem-e2e/job.env, sets up
# the linked netdevsim pair, exports the DEVMEM_E2E_* contract (docs/guest-lab.md,
# test/e2e/helpers/env.ts) and runs mocha inside the local netns. mocha's spec output
# goes to the console (the host streams it); its results go to results.json in the job
# directory, which the host reads back.
set -eu

job=/run/devmem-e2e
. "$job/job.env"
here=$DEVMEM_JOB_REPO/scripts/vm/guest
# Conformance runs the kernel's own selftests instead of mocha.
if [ "$DEVMEM_JOB_MODE" = conformance ]; then
  exec /bin/sh "$here/conformance.sh"
fi
# The host's node first on PATH, for tests that spawn `node`.
PATH=$(dirname "$DEVMEM_JOB_NODE"):$PATH
export PATH
. "$here/netdevsim-pair.sh"

queues=4
setup_netdevsim_pair "$queues"
echo "devmem-e2e: $NS_LOCAL/$IF_LOCAL (ifindex $IFINDEX_LOCAL) <-> $NS_REMOTE/$IF_REMOTE (ifindex $IFINDEX_REMOTE), $queues queues"

export DEVMEM_E2E=1
export DEVMEM_E2E_MODE="$DEVMEM_JOB_MODE"
export DEVMEM_E2E_NETNS_LOCAL="$NS_LOCAL"
export DEVMEM_E2E_NETNS_REMOTE="$NS_REMOTE"
export DEVMEM_E2E_IF_LOCAL="$IF_LOCAL"
export DEVMEM_E2E_IFINDEX_LOCAL="$IFINDEX_LOCAL"
export DEVMEM_E2E_IF_REMOTE="$IF_REMOTE"
export DEVMEM_E2E_IFINDEX_REMOTE="$IFINDEX_REMOTE"
export DEVMEM_E2E_ADDR4_LOCAL="$ADDR4_LOCAL"
export DEVMEM_E2E_ADDR4_REMOTE="$ADDR4_REMOTE"
export DEVMEM_E2E_ADDR6_LOCAL="$ADDR6_LOCAL"
export DEVMEM_E2E_ADDR6_REMOTE="$ADDR6_REMOTE"
export DEVMEM_E2E_QUEUES="$queues"
DEVMEM_E2E_KERNEL=$(uname -r)
export DEVMEM_E2E_KERNEL

cd "$DEVMEM_JOB_REPO"

if [ "${DEVMEM_JOB_KIND:-test}" = bench ]; then
  # A benchmark job: the receive benchmark instead of mocha, same network.
  # DEVMEM_JOB_BENCH_ARGS is split into words on purpose.
  set +e
  # shellcheck disable=SC2086
  ip netns exec "$NS_LOCAL" "$DEVMEM_JOB_NODE" --import=tsx bench/guest/e2e-rx.ts \
    $DEVMEM_JOB_BENCH_ARGS --out "$job/bench.json"
  rc=$?
  set -e
  echo "$rc" > "$job/bench-exit"
  exit "$rc"
fi

set -- --config test/e2e/mocharc.json \
  --reporter-option "output=$job/results.json" \
  "test/e2e/$DEVMEM_JOB_MODE/**/*.test.ts"
if [ -n "${DEVMEM_JOB_GREP:-}" ]; then
  set -- "$@" --grep "$DEVMEM_JOB_GREP"
fi
if [ "${DEVMEM_JOB_COLOR:-0}" = 1 ]; then
  set -- "$@" --color
else
  set -- "$@" --no-color
fi

# tsx is loaded by this node process directly (rather than through mocha's node-option,
# which would start a second node: seconds under TCG).
set +e
# The sanitizer settings (empty unless `npm run test:asan`) reach only node and its children.
ip netns exec "$NS_LOCAL" env \
  "LD_PRELOAD=${DEVMEM_JOB_LD_PRELOAD:-}" "ASAN_OPTIONS=${DEVMEM_JOB_ASAN_OPTIONS:-}" \
  "UBSAN_OPTIONS=${DEVMEM_JOB_UBSAN_OPTIONS:-}" "DEVMEM_TCP_ADDON=${DEVMEM_JOB_ADDON:-}" \
  "DEVMEM_E2E_TX_DEVICE_REMOVAL=${DEVMEM_JOB_TX_DEVICE_REMOVAL:-}" \
  "$DEVMEM_JOB_NODE" --import=tsx node_modules/mocha/bin/mocha.js "$@"
rc=$?
set -e
echo "$rc" > "$job/mocha-exit"
exit "$rc"
