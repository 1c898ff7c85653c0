// Which netdevsim build is loaded. The devmem-e2e patch (netdevsim/devmem-e2e.patch)
// adds a read-only module parameter whose value names the patch revision; the stock
// driver has no such parameter.
import { existsSync, readFileSync } from 'node:fs';

export const NETDEVSIM_MODULE_DIR = '/sys/module/netdevsim';
export const DEVMEM_E2E_PARAM = `${NETDEVSIM_MODULE_DIR}/parameters/devmem_e2e`;

/** The patch marker (e.g. "devmem-tcp-e2e-1"), or undefined for the stock driver. */
export function netdevsimDevmemMarker(): string | undefined {
  return existsSync(DEVMEM_E2E_PARAM) ? readFileSync(DEVMEM_E2E_PARAM, 'utf8').trim() : undefined;
}

export function netdevsimLoaded(): boolean {
  return existsSync(NETDEVSIM_MODULE_DIR);
}
