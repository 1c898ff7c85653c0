/**
 * Where a guest receiver's CPU goes: `perf record` on the cpu-clock
 * software event (TCG has no hardware counters; the hrtimer-driven clock
 * samples fine), over one receive, reported by thread, by object and by
 * symbol. A receiver in this process is sampled by a perf attached to it
 * (`-p`, every thread); a C receiver runs under perf.
 *
 * JIT-compiled JavaScript has no symbols unless Node was started with
 * --perf-basic-prof, which the guest's node is not (its map file would
 * grow for the whole boot): its samples are reported as what they are, code
 * in anonymous memory, and counted as one share. V8's builtins are in the
 * node binary.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const PERF = process.env.PERF ?? 'perf';
const HZ = 1999;

/** perf report's text for one recording: by thread and object, then the top symbols. */
export interface ProfileReport {
  samples: number;
  byThreadAndObject: string;
  bySymbol: string;
}

function report(data: string): ProfileReport {
  const run = (sort: string, limit: string) => {
    const r = spawnSync(PERF, ['report', '-i', data, '--stdio', '-n', '--sort', sort, '--percent-limit', limit], {
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
  return { samples, byThreadAndObject: run('pid,dso', '0.5'), bySymbol: run('dso,sym', '0.4') };
}

/** Samples this process (every thread) while `work` runs. */
export async function profileSelf(work: () => Promise<void>): Promise<ProfileReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-profile-'));
  const data = path.join(dir, 'perf.data');
  try {
    const perf = spawn(
      PERF, // --no-inherit: not the sender's processes this one spawns.
      ['record', '-q', '--no-inherit', '-e', 'cpu-clock', '-F', String(HZ), '-p', String(process.pid), '-o', data],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    perf.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<void>((resolve) => perf.on('close', () => resolve()));
    // perf writes the file's header once it has attached to every thread.
    const deadline = Date.now() + 30_000;
    while (!(fs.existsSync(data) && fs.statSync(data).size > 0)) {
      if (perf.exitCode !== null) throw new Error(`perf record -p exited ${perf.exitCode}: ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error('perf record -p wrote nothing in 30 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    try {
      await work();
    } finally {
      perf.kill('SIGINT');
      await exited;
    }
    return report(data);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** argv that runs `argv` under perf record, and the report once it exited. */
export function profiled(argv: string[]): { argv: string[]; report: () => ProfileReport; close: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-profile-'));
  const data = path.join(dir, 'perf.data');
  return {
    argv: [PERF, 'record', '-q', '-e', 'cpu-clock', '-F', String(HZ), '-o', data, '--', ...argv],
    report: () => report(data),
    close: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
