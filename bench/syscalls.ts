/**
 * Syscall counts for the guest suite's receivers, by one method for all of
 * them: `perf stat` counting the kernel's syscall-entry tracepoints
 * (raw_syscalls:sys_enter for the total, syscalls:sys_enter_NAME for the
 * calls that matter here) on every thread of the receiving process, over the
 * same window as the timings, from accept to the end of the stream.
 *
 * perf starts with its counters disabled (`-D -1`) and takes `enable` and
 * `disable` on a control FIFO (`--control fifo:CTL,ACK`), answering each
 * with `ack` on a second one. A C receiver runs under perf and sends the
 * commands itself (its --perf-ctl/--perf-ack options); a receiver in this
 * process is counted by a perf attached to it (`-p`), and this process
 * sends them. Either way the handshake adds a few calls to the window: the
 * ack's read and the disable's write (and, in C, the timing calls around
 * them), about 3-7 per run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The calls counted one by one; `total` is every syscall. */
export const SYSCALL_EVENTS = {
  total: 'raw_syscalls:sys_enter',
  io_uring_enter: 'syscalls:sys_enter_io_uring_enter',
  recvmsg: 'syscalls:sys_enter_recvmsg',
  setsockopt: 'syscalls:sys_enter_setsockopt',
  epoll_pwait: 'syscalls:sys_enter_epoll_pwait',
  epoll_wait: 'syscalls:sys_enter_epoll_wait',
  read: 'syscalls:sys_enter_read',
  write: 'syscalls:sys_enter_write',
  futex: 'syscalls:sys_enter_futex',
} as const;

export type SyscallName = keyof typeof SYSCALL_EVENTS;
export type SyscallCounts = Record<SyscallName, number>;

const NAMES = Object.keys(SYSCALL_EVENTS) as SyscallName[];
const EVENT_LIST = NAMES.map((n) => SYSCALL_EVENTS[n]).join(',');
const PERF = process.env.PERF ?? 'perf';

/** Parses `perf stat -x,` output: value,unit,event,... per line. */
export function parsePerfStat(text: string): SyscallCounts {
  const byEvent = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes(',')) continue;
    const [value, , event] = line.split(',');
    if (event === undefined) continue;
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`perf stat did not count ${event}: ${value}`);
    byEvent.set(event, n);
  }
  const counts = {} as SyscallCounts;
  for (const name of NAMES) {
    const n = byEvent.get(SYSCALL_EVENTS[name]);
    if (n === undefined) throw new Error(`perf stat printed no ${SYSCALL_EVENTS[name]} count`);
    counts[name] = n;
  }
  return counts;
}

let probed: { ok: true } | { ok: false; reason: string } | undefined;

/**
 * Whether perf can count the syscall tracepoints here (root, perf on PATH,
 * a kernel with CONFIG_FTRACE_SYSCALLS; perf mounts tracefs itself). Tried
 * once, on `true`.
 */
export function syscallCounting(): { ok: true } | { ok: false; reason: string } {
  if (probed) return probed;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-perf-'));
  try {
    const out = path.join(dir, 'probe');
    const r = spawnSync(PERF, ['stat', '-x,', '-o', out, '-e', EVENT_LIST, '--', 'true'], { encoding: 'utf8', timeout: 60_000 });
    if (r.error) probed = { ok: false, reason: `${PERF}: ${r.error.message}` };
    else if (r.status !== 0)
      probed = { ok: false, reason: `${PERF} stat exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}` };
    else {
      const c = parsePerfStat(fs.readFileSync(out, 'utf8'));
      probed = c.total > 0 ? { ok: true } : { ok: false, reason: 'perf stat counted no syscalls of `true`' };
    }
  } catch (e) {
    probed = { ok: false, reason: (e as Error).message };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return probed;
}

/**
 * perf's control FIFOs and output file for one window: perf starts with its
 * events off (`-D -1`) and is switched on and off over the FIFOs. The
 * subclass says which perf command runs (stat for counts, record for a
 * profile).
 */
export abstract class PerfWindow {
  readonly dir: string;
  readonly ctl: string;
  readonly ack: string;
  readonly out: string;
  #perf: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #stderr = '';
  #ctlFd = -1;
  #ackFd = -1;

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-syscalls-'));
    this.ctl = path.join(this.dir, 'ctl');
    this.ack = path.join(this.dir, 'ack');
    this.out = path.join(this.dir, 'out');
    const r = spawnSync('mkfifo', [this.ctl, this.ack], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mkfifo: ${r.error?.message ?? r.stderr.trim()}`);
  }

  /** perf's subcommand and options, given the output file and the control FIFOs. */
  protected abstract perfArgs(): string[];

  /** `-D -1 --control fifo:CTL,ACK`, for perfArgs(). */
  protected controlArgs(): string[] {
    return ['-D', '-1', '--control', `fifo:${this.ctl},${this.ack}`];
  }

  /** Waits for an attached perf to finish writing (it stops on SIGINT). */
  protected async stop(): Promise<void> {
    if (this.#perf) {
      this.#perf.kill('SIGINT');
      await this.#exited;
    }
  }

  /** What perf printed on stderr, for error messages. */
  protected get stderr(): string {
    return this.#stderr;
  }

  /**
   * argv that runs `argv` under perf, counting disabled until the program
   * enables it: a C receiver given `--perf-ctl CTL --perf-ack ACK`.
   */
  wrap(argv: string[]): string[] {
    return [PERF, ...this.perfArgs(), '--', ...argv, '--perf-ctl', this.ctl, '--perf-ack', this.ack];
  }

  /** Attaches a perf to every thread of `pid` (this process), counting disabled; resolves once perf listens. */
  async attach(pid: number = process.pid): Promise<void> {
    const perf = spawn(PERF, [...this.perfArgs(), '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#perf = perf;
    perf.stderr!.setEncoding('utf8');
    perf.stderr!.on('data', (d: string) => (this.#stderr += d));
    this.#exited = new Promise((resolve) => perf.on('close', () => resolve()));
    perf.on('error', (e) => (this.#stderr += e.message));
    // perf opens the FIFOs (read-write) before it attaches; wait for that,
    // then the opens below cannot block and perf answers once it is counting.
    const deadline = Date.now() + 30_000;
    while (!this.#holds(perf.pid)) {
      if (perf.exitCode !== null || perf.signalCode !== null || perf.pid === undefined)
        throw new Error(`perf stat -p ${pid} failed: ${this.#stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`perf stat -p ${pid} did not open its control FIFO in 30 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    this.#ctlFd = fs.openSync(this.ctl, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    this.#ackFd = fs.openSync(this.ack, fs.constants.O_RDONLY);
  }

  #holds(pid: number | undefined): boolean {
    if (pid === undefined) return false;
    try {
      const fds = `/proc/${pid}/fd`;
      return fs.readdirSync(fds).some((fd) => {
        try {
          return fs.readlinkSync(path.join(fds, fd)) === this.ctl;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  }

  #command(cmd: 'enable' | 'disable'): void {
    fs.writeSync(this.#ctlFd, `${cmd}\n`);
    const buf = Buffer.alloc(16);
    if (fs.readSync(this.#ackFd, buf, 0, buf.length, null) <= 0)
      throw new Error(`perf stat did not acknowledge ${cmd}: ${this.#stderr.trim()}`);
  }

  /** Starts counting (attached perf): synchronous, so it ends exactly where the caller's window starts. */
  enable(): void {
    this.#command('enable');
  }

  /** Stops counting (attached perf). */
  disable(): void {
    this.#command('disable');
  }

  /** Closes the FIFOs, stops an attached perf still running, removes the files. */
  close(): void {
    for (const fd of [this.#ctlFd, this.#ackFd]) if (fd >= 0) fs.closeSync(fd);
    this.#ctlFd = this.#ackFd = -1;
    if (this.#perf && this.#perf.exitCode === null && this.#perf.signalCode === null) this.#perf.kill('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A window of syscall counts (perf stat on the syscall-entry tracepoints). */
export class SyscallWindow extends PerfWindow {
  protected perfArgs(): string[] {
    return ['stat', '-x,', '-o', this.out, ...this.controlArgs(), '-e', EVENT_LIST];
  }

  /** The counts: for an attached perf, after stopping it; for a wrapped program, once it exited. */
  async counts(): Promise<SyscallCounts> {
    await this.stop();
    try {
      return parsePerfStat(fs.readFileSync(this.out, 'utf8'));
    } catch (e) {
      throw new Error(`no syscall counts from perf stat (${(e as Error).message})${this.stderr ? `: ${this.stderr.trim()}` : ''}`);
    }
  }
}
