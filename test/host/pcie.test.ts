import * as assert from 'node:assert/strict';

import { pcieLink } from '../../lib/pcie';

// Resolved sysfs paths as the kernel lays them out: the host bridge, then
// each port or bridge, then the device's own function.
describe('PCIe link between a NIC and a GPU, from their sysfs paths', () => {
  const root = '/sys/devices/pci0000:00/0000:00:03.1';
  const nic = `${root}/0000:03:00.0/0000:04:08.0/0000:05:00.0`;

  it('finds a shared PCIe switch', () => {
    assert.equal(pcieLink(nic, `${root}/0000:03:00.0/0000:04:10.0/0000:06:00.0`), 'switch');
  });

  it('finds a shared root port or bridge only', () => {
    assert.equal(pcieLink(`${root}/0000:03:00.0`, `${root}/0000:03:00.1`), 'bridge');
  });

  it('finds only the root complex in common', () => {
    assert.equal(pcieLink(nic, '/sys/devices/pci0000:00/0000:00:01.1/0000:41:00.0'), 'root-complex');
  });

  it('finds separate host bridges', () => {
    assert.equal(pcieLink(nic, '/sys/devices/pci0000:80/0000:80:01.1/0000:81:00.0'), 'separate-roots');
  });

  it('says unknown for a device that is not on PCI', () => {
    assert.equal(pcieLink(nic, '/sys/devices/platform/vgem'), 'unknown');
    assert.equal(pcieLink('/sys/devices/virtual/net/lo', nic), 'unknown');
  });

  it('stops at the first component that is not a PCI function', () => {
    assert.equal(pcieLink(`${nic}/net/eth1`, `${root}/0000:03:00.0/0000:04:10.0/0000:06:00.0/drm/card0`), 'switch');
  });
});
