/**
 * How a `devmem nc` run ends, in kselftest terms: 0 pass, 1 fail, 4 skip.
 * A skip means this host cannot do devmem at all (which a test harness
 * reports as SKIP); everything else that goes wrong is a failure.
 */
import { DevmemError, type DevmemReason } from '../../lib/errors';
import { UsageError } from './options';

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_SKIP = 4;

export interface Outcome {
  exitCode: typeof EXIT_OK | typeof EXIT_FAIL | typeof EXIT_SKIP;
  result: 'ok' | 'fail' | 'skip';
  message?: string;
  /** What to do about it (a DevmemError's advice). */
  advice?: string;
  reason?: DevmemReason | 'USAGE';
  /** The RX server's connections, one entry each: how each went and where it arrived. */
  connections?: Record<string, unknown>[];
}

const SKIP_REASONS: ReadonlySet<DevmemReason> = new Set<DevmemReason>([
  'DEVICE_UNSUPPORTED',
  'KERNEL_TOO_OLD',
  'NO_UDMABUF',
  'NTUPLE_UNSUPPORTED',
  'RSS_UNSUPPORTED',
  'RX_PAGE_SIZE_UNSUPPORTED',
  'NOT_PERMITTED',
  'ZCRX_UNSUPPORTED',
]);

export function isSkip(e: unknown): boolean {
  return e instanceof DevmemError && SKIP_REASONS.has(e.reason);
}

export const ok = (message?: string): Outcome => ({ exitCode: EXIT_OK, result: 'ok', ...(message ? { message } : {}) });

export function fail(message: string, reason?: DevmemReason | 'USAGE'): Outcome {
  return { exitCode: EXIT_FAIL, result: 'fail', message, ...(reason ? { reason } : {}) };
}

export function fromError(e: unknown): Outcome {
  if (e instanceof UsageError) return fail(e.message, 'USAGE');
  if (e instanceof DevmemError) {
    if (SKIP_REASONS.has(e.reason)) return { exitCode: EXIT_SKIP, result: 'skip', message: e.message, advice: e.advice, reason: e.reason };
    return { ...fail(e.message, e.reason), advice: e.advice };
  }
  return fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
}
