/** Node's AbortError shape: `code` ABORT_ERR, with the signal's reason as `cause`. */
export class AbortError extends Error {
  /**
   * `'ABORT_ERR'`, as on the AbortError Node's own APIs throw. Test this (or
   * `name`) to catch both kinds: `instanceof` matches only this class.
   */
  readonly code = 'ABORT_ERR';

  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }

  /** `'AbortError'`, as on Node's. */
  override get name(): string {
    return 'AbortError';
  }
}

export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  return signal;
}

export function abortError(signal: AbortSignal): AbortError {
  return new AbortError(undefined, { cause: signal.reason });
}
