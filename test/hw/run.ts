// `npm run test:hw`: devmem end to end on a host with a capable NIC (gve,
// mlx5, bnxt, fbnic), configured like the kernel's driver tests, reporting
// KTAP with kselftest exit codes. The same suite runs in the guest lab
// against the patched netdevsim pair (REMOTE_TYPE=netns), from test/e2e.
// Every RX case runs on both receive backends, devmem and io_uring zcrx
// (`--backend` picks one).
//
//   NETIF=eth1 LOCAL_V6=... REMOTE_V6=... REMOTE_TYPE=ssh REMOTE_ARGS=root@peer npm run test:hw
//   npm run test:hw -- --config net.config --soak 60 --backend zcrx
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { readNicState, zcrxSupport } from '../../lib/index';
import {
  type Backend,
  BACKENDS,
  checkRx,
  checkRxHds,
  checkRxHdsZcrx,
  checkRxMultiQueue,
  checkRxMultiQueueZcrx,
  checkRxSoak,
  checkRxSoakZcrx,
  checkRxZcrx,
  checkSelftest,
  checkStateRestored,
  checkTx,
  checkTxChunks,
  type Ctx,
} from './cases';
import { ConfigError, loadConfig } from './config';
import { KSFT_FAIL, KSFT_PASS, KSFT_SKIP, Ktap, type CaseResult } from './ktap';
import { LOCAL_CLI, ROOT } from './local';
import { choosePeer } from './peer';
import { Remote } from './remote';

/** A case; `backend` marks an RX case, which runs only when --backend selects that backend. */
type Case = { name: string; tx?: boolean; backend?: Backend; run: (ctx: Ctx) => Promise<CaseResult> };

function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(os.release());
  return !!m && (Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      soak: { type: 'string', default: '0' },
      backend: { type: 'string', default: 'both' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(fs.readFileSync(path.join(__dirname, 'USAGE.txt'), 'utf8'));
    return 0;
  }
  const ktap = new Ktap();
  const soakSeconds = Number(values.soak);
  if (!Number.isInteger(soakSeconds) || soakSeconds < 0) {
    ktap.diag(`--soak needs whole seconds, got ${values.soak}`);
    return KSFT_FAIL;
  }
  if (values.backend !== 'both' && !BACKENDS.includes(values.backend as Backend)) {
    ktap.diag(`--backend must be devmem, zcrx or both, got ${values.backend}`);
    return KSFT_FAIL;
  }
  const backends = values.backend === 'both' ? BACKENDS : [values.backend as Backend];
  let config;
  try {
    config = loadConfig(process.env, values.config ?? path.join(ROOT, 'net.config'));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    ktap.diag(e.message);
    ktap.diag('see docs/hardware.md');
    return KSFT_FAIL;
  }
  if (!fs.existsSync(LOCAL_CLI[1]!)) {
    ktap.diag(`${LOCAL_CLI[1]} is missing: run npm run build:ts (npm run test:hw does)`);
    return KSFT_FAIL;
  }

  // Read once the prerequisites hold; the last case compares against it.
  const state: { before?: Awaited<ReturnType<typeof readNicState>> } = {};
  // The zcrx cases are gated by the devmem self-test too: zcrx needs what a
  // devmem-capable driver has (the queue API, header split, page pools that
  // DMA from the device), and they skip on their own where the kernel or
  // this build has no zcrx.
  const allCases: Case[] = [
    { name: 'selftest', run: checkSelftest },
    { name: 'check_rx', backend: 'devmem', run: checkRx },
    { name: 'check_rx_zcrx', backend: 'zcrx', run: checkRxZcrx },
    { name: 'check_rx_hds', backend: 'devmem', run: checkRxHds },
    { name: 'check_rx_hds_zcrx', backend: 'zcrx', run: checkRxHdsZcrx },
    { name: 'check_tx', tx: true, run: checkTx },
    { name: 'check_tx_chunks', tx: true, run: checkTxChunks },
    { name: 'check_rx_multi_queue', backend: 'devmem', run: checkRxMultiQueue },
    { name: 'check_rx_multi_queue_zcrx', backend: 'zcrx', run: checkRxMultiQueueZcrx },
    { name: 'check_rx_soak', backend: 'devmem', run: checkRxSoak },
    { name: 'check_rx_soak_zcrx', backend: 'zcrx', run: checkRxSoakZcrx },
    { name: 'nic_state_restored', run: (ctx) => checkStateRestored(state.before!)(ctx) },
  ];
  const cases = allCases.filter((c) => c.backend === undefined || backends.includes(c.backend));
  ktap.plan(cases.length);
  ktap.diag(`NETIF=${config.netif} REMOTE_TYPE=${config.remoteType} REMOTE_ARGS=${config.remoteArgs} kernel ${os.release()}`);
  ktap.diag(`RX backends: ${backends.join(', ')}`);

  // Prerequisites, each skipping everything with its exact reason.
  let skipAll: string | undefined;
  if (process.getuid?.() !== 0) skipAll = 'not root: bind-rx and NIC configuration need CAP_NET_ADMIN';
  else if (!kernelAtLeast(6, 12)) skipAll = `kernel ${os.release()} is too old: devmem RX needs 6.12`;
  else if (!fs.existsSync('/dev/udmabuf')) skipAll = 'no udmabuf: /dev/udmabuf is missing (CONFIG_UDMABUF, modprobe udmabuf)';
  const remote = new Remote(config);
  const peer = skipAll ? undefined : await choosePeer(config, remote, LOCAL_CLI);
  if (typeof peer === 'string') skipAll = peer;
  if (skipAll || !peer || typeof peer === 'string') {
    for (const c of cases) ktap.result(c.name, { status: 'skip', reason: skipAll ?? 'not run' });
    return ktap.finish();
  }
  ktap.diag(`remote peer: ${peer.kind}`);
  if (backends.includes('zcrx')) {
    const z = zcrxSupport();
    ktap.diag(z.zcrx ? `io_uring zcrx: yes, copy statistics: ${z.events ? 'yes' : 'no (Linux 7.2)'}` : `io_uring zcrx: no (${z.reason})`);
  }
  state.before = await readNicState(config.netif);

  let port = 20000 + (process.pid % 20000);
  const ctx: Ctx = { config, remote, peer, soakSeconds, diag: (t) => ktap.diag(t), nextPort: () => port++ };
  let devmemOk = true;
  let devmemWhy = '';
  for (const c of cases) {
    let r: CaseResult;
    if (!devmemOk && c.name !== 'nic_state_restored') r = { status: 'skip', reason: devmemWhy };
    else if (c.tx && !kernelAtLeast(6, 16)) r = { status: 'skip', reason: `kernel ${os.release()} is too old: devmem TX needs 6.16` };
    else {
      try {
        r = await c.run(ctx);
      } catch (e) {
        r = { status: 'fail', reason: e instanceof Error ? (e.stack ?? e.message) : String(e) };
      }
    }
    // Like devmem.py's require_devmem(): when the probe cannot bind, this is not a capable NIC.
    if (c.name === 'selftest' && r.status !== 'pass') {
      devmemOk = false;
      devmemWhy = r.status === 'skip' ? `no capable NIC: ${r.reason}` : 'the self-test probe failed';
    }
    ktap.result(c.name, r);
  }
  const code = ktap.finish();
  // No capable NIC means the host was skipped, even though the state check ran.
  return code === KSFT_PASS && !devmemOk ? KSFT_SKIP : code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stdout.write(`# fatal: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = KSFT_FAIL;
  },
);
