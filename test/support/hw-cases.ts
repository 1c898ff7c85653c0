/**
 * What the hardware suite (test/hw/run.ts) must run, in order, with both RX
 * backends (--backend both, the default): written out here rather than read
 * from the suite, so that a case dropped or reordered there fails the tests
 * that check it on the host and in the guest.
 */
export const HW_CASES = [
  'selftest',
  'check_rx',
  'check_rx_zcrx',
  'check_rx_hds',
  'check_rx_hds_zcrx',
  'check_tx',
  'check_tx_chunks',
  'check_rx_multi_queue',
  'check_rx_multi_queue_zcrx',
  'check_rx_soak',
  'check_rx_soak_zcrx',
  'nic_state_restored',
] as const;
