// Smoke tests of the guest environment itself, shared by the devmem and stock specs.
// They use node built-ins only (no addon), so a failure here points at the harness,
// the guest kernel or the netdevsim build, not at the code under test.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { release } from 'node:os';
import { e2eEnv, type E2eMode } from './env.js';
import { localInterface, remoteInterface } from './netdev.js';
import { netdevsimDevmemMarker, netdevsimLoaded } from './netdevsim.js';
import { receiveFromRemote } from './traffic.js';

const MIB = 1 << 20;

function assertCharDevice(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    assert.fail(`${path} is missing: ${(err as Error).message}`);
  }
  assert.ok(st.isCharacterDevice(), `${path} exists but is not a character device`);
}

export function describeGuestEnvironment(expectedMode: E2eMode): void {
  describe(`guest environment (${expectedMode} mode)`, function () {
    const env = e2eEnv();

    it(`is the ${expectedMode} run of the guest harness`, function () {
      assert.equal(env.mode, expectedMode);
      assert.equal(env.kernel, release(), 'DEVMEM_E2E_KERNEL is not the running kernel');
    });

    it('runs the tests inside the local netns', function () {
      const self = statSync('/proc/self/ns/net');
      const local = statSync(`/run/netns/${env.netnsLocal}`);
      const remote = statSync(`/run/netns/${env.netnsRemote}`);
      assert.equal(self.ino, local.ino, `not in netns ${env.netnsLocal}`);
      assert.notEqual(local.ino, remote.ino, 'local and remote are the same netns');
    });

    describe('netdevsim ports', function () {
      it(`local port exists in ${env.netnsLocal} as a netdevsim port with ${env.queues} rx queues`, function () {
        const info = localInterface(env.ifLocal);
        assert.ok(info, `${env.ifLocal} not found in ${env.netnsLocal}`);
        assert.equal(info.driver, 'netdevsim');
        assert.equal(info.ifindex, env.ifindexLocal);
        assert.equal(info.rxQueues, env.queues);
      });

      it(`remote port exists in ${env.netnsRemote} as a netdevsim port with ${env.queues} rx queues`, async function () {
        const info = await remoteInterface(env.ifRemote);
        assert.ok(info, `${env.ifRemote} not found in ${env.netnsRemote}`);
        assert.equal(info.driver, 'netdevsim');
        assert.equal(info.ifindex, env.ifindexRemote);
        assert.equal(info.rxQueues, env.queues);
      });

      it('each port is visible only in its own netns', async function () {
        assert.equal(localInterface(env.ifRemote), undefined, `${env.ifRemote} leaks into ${env.netnsLocal}`);
        assert.equal(await remoteInterface(env.ifLocal), undefined, `${env.ifLocal} leaks into ${env.netnsRemote}`);
      });

      if (expectedMode === 'devmem') {
        it('the loaded netdevsim is the devmem-e2e build', function () {
          assert.ok(netdevsimLoaded(), 'netdevsim is not loaded');
          assert.match(netdevsimDevmemMarker() ?? '(no devmem_e2e parameter)', /^devmem-tcp-e2e-\d+$/);
        });
      } else {
        it('the loaded netdevsim is the stock build', function () {
          assert.ok(netdevsimLoaded(), 'netdevsim is not loaded');
          assert.equal(netdevsimDevmemMarker(), undefined, 'the devmem-e2e netdevsim is loaded in stock mode');
        });
      }
    });

    describe('dma-buf exporters', function () {
      it('/dev/udmabuf exists', function () {
        assertCharDevice('/dev/udmabuf');
      });

      it('/dev/dma_heap/system exists', function () {
        assertCharDevice('/dev/dma_heap/system');
      });
    });

    describe('TCP across the linked ports', function () {
      for (const family of ['IPv4', 'IPv6'] as const) {
        it(`1 MiB sent from ${env.netnsRemote} arrives intact over ${family}`, async function () {
          const [local, remote] = family === 'IPv4' ? [env.addr4Local, env.addr4Remote] : [env.addr6Local, env.addr6Remote];
          const data = randomBytes(MIB);
          const transfer = await receiveFromRemote(local, data);
          assert.equal(transfer.clientAddress, remote, 'the client did not use the remote port address');
          assert.equal(transfer.peerAddress, remote, 'the connection did not come from the remote port');
          assert.equal(transfer.received.length, data.length, 'byte count differs');
          assert.ok(transfer.received.equals(data), 'payload differs from what was sent');
        });
      }
    });
  });
}
