// @ts-check
// Child processes for the harness. Every child gets its own process group so that
// killAllChildren() can stop it together with whatever it started (apt's dpkg, the
// chroot's make, qemu), e.g. on SIGINT or when the overall timeout fires.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { HarnessError } from './errors.mjs';
/** @import { ChildProcess, ChildProcessByStdio, SpawnOptions } from 'node:child_process' */
/** @import { Readable } from 'node:stream' */

/**
 * @typedef {object} RunOptions
 * @property {string} [cwd]
 * @property {NodeJS.ProcessEnv} [env] the child's whole environment (default: ours)
 * @property {boolean} [capture]
 * @property {boolean} [allowFail]
 */
/**
 * @typedef {object} RunResult
 * @property {number} code the exit status, 128 + the signal's number if it was killed
 * @property {NodeJS.Signals | null} signal
 * @property {string} stdout empty unless captured
 * @property {string} stderr empty unless captured
 */

/** @type {Set<ChildProcess>} */
const live = new Set();

/**
 * @param {string} cmd
 * @param {readonly string[]} args
 */
function describe(cmd, args) {
  return [cmd, ...args].join(' ');
}

/**
 * Runs a command to completion. stdin is always closed: the harness runs in CI without
 * a terminal and nothing it starts may wait for input.
 *   capture: collect stdout/stderr and return them (else they go to our stdout/stderr)
 *   allowFail: resolve with the exit status instead of throwing on non-zero exit
 * @param {string} cmd
 * @param {readonly string[]} [args]
 * @param {RunOptions} [opts]
 * @returns {Promise<RunResult>}
 */
export function run(cmd, args = [], opts = {}) {
  const { cwd, env, capture = false, allowFail = false } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: env ?? process.env,
      stdio: ['ignore', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'],
      detached: true,
    });
    live.add(child);
    /** @type {Buffer[]} */
    const out = [];
    /** @type {Buffer[]} */
    const err = [];
    child.stdout?.on('data', (chunk) => out.push(chunk));
    child.stderr?.on('data', (chunk) => err.push(chunk));
    child.on('error', (error) => {
      live.delete(child);
      reject(new HarnessError(`cannot run ${cmd}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      live.delete(child);
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      const status = code ?? 128 + (constants.signals[/** @type {NodeJS.Signals} */ (signal)] ?? 0);
      if (status !== 0 && !allowFail) {
        const tail = (stderr || stdout).trim().split('\n').slice(-15).join('\n');
        reject(new HarnessError(`command failed (exit ${code ?? signal}): ${describe(cmd, args)}${tail ? `\n${tail}` : ''}`));
        return;
      }
      resolve({ code: status, signal, stdout, stderr });
    });
  });
}

/**
 * Runs a command and returns its stdout (throws on failure).
 * @param {string} cmd
 * @param {readonly string[]} [args]
 * @param {Omit<RunOptions, 'capture'>} [opts]
 * @returns {Promise<string>}
 */
export async function capture(cmd, args = [], opts = {}) {
  const { stdout } = await run(cmd, args, { ...opts, capture: true });
  return stdout;
}

/**
 * Starts a long-running child (qemu) whose lifetime the caller manages.
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {Omit<SpawnOptions, 'stdio'>} [opts]
 * @returns {ChildProcessByStdio<null, Readable, Readable>}
 */
export function startChild(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
  live.add(child);
  child.on('close', () => live.delete(child));
  return child;
}

/**
 * Signals a child's whole process group; ignores children that already exited.
 * @param {ChildProcess} child
 * @param {NodeJS.Signals} [signal]
 */
export function killTree(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-(/** @type {number} */ (child.pid)), signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Stops every child still running: SIGTERM first (lets traps unmount), then SIGKILL.
 * @param {number} [graceMs]
 */
export async function killAllChildren(graceMs = 5000) {
  const children = [...live];
  if (children.length === 0) return;
  for (const child of children) killTree(child, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && children.some((c) => c.exitCode === null && c.signalCode === null)) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const child of children) killTree(child, 'SIGKILL');
}
