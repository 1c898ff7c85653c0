/**
 * Where a guest receiver's CPU goes: `perf record` on the cpu-clock
 * software event (TCG has no hardware counters; the hrtimer-driven clock
 * samples fine), over exactly the timed window of one receive (accept to the
 * end of the stream), reported by thread, by object and by symbol. A
 * receiver in this process is sampled by a perf attached to it (`-p`, every
 * thread); a C receiver runs under perf.
 *
 * JIT-compiled JavaScript has no symbols unless Node was started with
 * --perf-basic-prof, which the guest's node is not (its map file would
 * grow for the whole boot): its samples are reported as what they are, code
 * in anonymous memory, and counted as one share. V8's builtins are in the
 * node binary.
 */
import { spawnSync } from 'node:child_process';

import { PerfWindow } from '../syscalls';

const PERF = process.env.PERF ?? 'perf';
const HZ = 1999;

/** perf report's text for one recording: by thread and object, then the top symbols. */
export interface ProfileReport {
  samples: number;
  byThreadAndObject: string;
  bySymbol: string;
  /**
   * Kernel functions by inclusive share (their callees' samples counted in):
   * which syscalls, the softirq work (the emulated NIC's RX, TCP) that ran in
   * this process's context, page faults.
   */
  byKernelPath: string;
}

function report(data: string): ProfileReport {
  const run = (sort: string, limit: string, extra: string[] = ['--no-children']) => {
    const r = spawnSync(PERF, ['report', '-i', data, '--stdio', '-n', '-g', 'none', ...extra, '--sort', sort, '--percent-limit', limit], {
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
      timeout: 300_000,
    });
    if (r.status !== 0) throw new Error(`perf report --sort ${sort} exited ${r.status}: ${r.stderr.trim()}`);
    return r.stdout
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .join('\n');
  };
  // With -n the second column is each line's sample count; by command alone, the lines cover them all.
  // (perf's "pid" key is per thread: tid:comm.)
  const byThread = run('comm', '0');
  const samples = byThread.split('\n').reduce((n, l) => n + Number(l.trim().split(/\s+/)[1] ?? 0), 0);
  const inclusive = run('sym', '2', ['--children'])
    .split('\n')
    .filter((l) => l.includes('[k]'))
    .join('\n');
  return { samples, byThreadAndObject: run('pid,dso', '0.5'), bySymbol: run('dso,sym', '0.4'), byKernelPath: inclusive };
}

/**
 * perf record over one timed window, like the syscall counts: attached to
 * this process (every thread that exists by then, not the processes it
 * spawns: --no-inherit) or wrapping a C receiver, which switches it on at
 * accept and off at the end of the stream itself.
 */
export class ProfileWindow extends PerfWindow {
  protected perfArgs(): string[] {
    // -g: kernel call chains (the kernel unwinds itself), for byKernelPath.
    return ['record', '-q', '--no-inherit', '-g', '-e', 'cpu-clock', '-F', String(HZ), '-o', this.out, ...this.controlArgs()];
  }

  /** The report: for an attached perf, after stopping it; for a wrapped program, once it exited. */
  async report(): Promise<ProfileReport> {
    await this.stop();
    return report(this.out);
  }
}
