/**
 * `devmem bench`: the performance benchmarks, each of our paths
 * beside a C reference built on the spot. Medians over runs, ratios taken
 * within each run. Not a test: nothing here passes or fails on speed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';

import { RECEIVE_DEFAULTS } from '../../lib/index';
import { parseMemory } from '../memory';
import {
  guestBatchRows,
  guestRows,
  guestScalingRows,
  guestStartupRows,
  guestSyscallRows,
  guestZcrxRows,
  runGuest,
} from '../../bench/guest';
import { loopbackRows, runLoopback } from '../../bench/loopback';
import { describeMachine, machine } from '../../bench/machine';
import { pipelineRows, runPipeline } from '../../bench/pipeline';
import { runScaling, scalingCapLines, scalingRows } from '../../bench/scaling';
import { fixed, markdownTable, table } from '../../bench/stats';

export const BENCH_HELP = `Usage: devmem bench [--suite NAME]... [OPTIONS]

Benchmarks our receive path against C (see BENCHMARKS.md). Suites:
  loopback   4 GiB over loopback TCP: the C recvmsg loop, DevmemSocket, net.Socket
  pipeline   replayed control areas through the production receive path vs. a C loop;
             fragments/s on one core, JS heap bytes per fragment, DONTNEED calls,
             and RSS over one long run
  scaling    the pipeline on 1 and 2 worker threads (a replay socket each) beside 1
             and 2 concurrent C pipeline processes: fragments/s, per CPU second,
             speed-up, and the cores and load that cap it on this host
  guest      the QEMU guest lab (root, ~3-5 min): DevmemSocket vs. the C receiver on
             the patched netdevsim, and DONTNEED calls per GiB against ncdevmem's;
             then io_uring zcrx: DevmemSocket with { zcrx } vs. a C zcrx loop; CPU
             and syscalls (perf stat) per GiB for every receiver; our batch sizes;
             then one flow per queue (4), received by 1 worker thread and by 4
Default: loopback, pipeline and scaling.

Options:
  --suite NAME          run this suite (repeatable; "all" for every suite)
  --runs N              runs per figure (default 5; medians need at least 5)
  --bytes N             loopback bytes per run (default 4 GiB)
  --fragments N         pipeline fragments per run (default 20000000); the scaling
                        suite's per worker and per C process (default 100000000)
  --rss-fragments N     fragments of the RSS run (default 100000000; 0 skips it)
  --batch N             pipeline batch size in fragments (default: the sockets' batchFragments)
  --guest-bytes N       guest bytes per run (default 32 MiB)
  --memory KIND[:ARG]   the guest suite's dma-buf: udmabuf (default), dmaheap[:HEAP]
                        or drm[:/dev/dri/cardN] (vgem in the lab)
  --profile MIB         guest suite: after the timed runs, the C loop and DevmemSocket
                        each receive MIB more under perf record (cpu-clock), reported
                        by thread, object and symbol
  --json                print the raw results as JSON
  --out FILE            also write the raw results as JSON to FILE
  --markdown            print Markdown tables (for BENCHMARKS.md)
  -h, --help            show this help
`;

const SUITES = ['loopback', 'pipeline', 'scaling', 'guest'] as const;
type Suite = (typeof SUITES)[number];

function count(v: string | undefined, name: string, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`--${name} must be an integer >= ${min}, got ${v}`);
  return n;
}

export async function runBench(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        suite: { type: 'string', multiple: true },
        runs: { type: 'string' },
        bytes: { type: 'string' },
        fragments: { type: 'string' },
        'rss-fragments': { type: 'string' },
        batch: { type: 'string' },
        'guest-bytes': { type: 'string' },
        memory: { type: 'string' },
        profile: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
        markdown: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    process.stderr.write(`devmem bench: ${(e as Error).message}\n\n${BENCH_HELP}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  let suites: Suite[];
  let runs, bytes, fragments, scalingFragments, rssFragments, batch, guestBytes, profileMib;
  try {
    const asked = values.suite ?? ['loopback', 'pipeline', 'scaling'];
    for (const s of asked)
      if (s !== 'all' && !SUITES.includes(s as Suite)) throw new RangeError(`unknown suite "${s}" (${SUITES.join(', ')}, all)`);
    suites = asked.includes('all') ? [...SUITES] : SUITES.filter((s) => asked.includes(s));
    runs = count(values.runs, 'runs', 5);
    bytes = count(values.bytes, 'bytes', 4 * 2 ** 30);
    fragments = count(values.fragments, 'fragments', 2e7);
    // Windows of ~1 s per variant (long enough that a burst of another job
    // on this shared host is averaged over): five runs took 20 s on 2 cores at load 1.6.
    scalingFragments = count(values.fragments, 'fragments', 1e8);
    rssFragments = count(values['rss-fragments'], 'rss-fragments', 1e8, 0);
    batch = count(values.batch, 'batch', RECEIVE_DEFAULTS.batchFragments);
    guestBytes = count(values['guest-bytes'], 'guest-bytes', 32 * 2 ** 20);
    profileMib = count(values.profile, 'profile', 0, 0);
    parseMemory(values.memory);
  } catch (e) {
    process.stderr.write(`devmem bench: ${(e as Error).message}\n`);
    return 1;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const render = values.markdown ? markdownTable : table;
  const m = machine();
  const results: Record<string, unknown> = { machine: m };
  const out: string[] = [`machine: ${describeMachine(m)}`];
  if (suites.includes('loopback')) {
    const r = await runLoopback({ bytes, runs, log });
    results.loopback = r;
    out.push('', `loopback receive, ${fixed(bytes / 2 ** 30)} GiB per run, ${runs} runs`, render(loopbackRows(r)));
  }
  if (suites.includes('pipeline')) {
    const r = await runPipeline({ fragments, runs, perRecvmsg: 512, batch, rssFragments, log });
    results.pipeline = r;
    out.push(
      '',
      `fragment pipeline, ${fragments} fragments of 4 KiB per run, 512 per recvmsg, batches of ${batch}, ${runs} runs`,
      render(pipelineRows(r)),
    );
    if (r.rss) {
      const mib = (b: number) => fixed(b / 2 ** 20, 2);
      out.push(
        `RSS over ${r.rss.fragments} fragments (first vs last quarter after 10% warm-up): floor ${mib(r.rss.floorGrowthBytes)} MiB, ` +
          `peak ${mib(r.rss.peakGrowthBytes)} MiB; swing between collections ${mib(r.rss.swingBytes)} MiB`,
      );
    }
  }
  if (suites.includes('scaling')) {
    const r = await runScaling({ fragments: scalingFragments, runs, perRecvmsg: 512, batch, log });
    results.scaling = r;
    out.push(
      '',
      `pipeline scaling, ${scalingFragments} fragments of 4 KiB per worker (JS) or process (C) and run, 512 per recvmsg, ` +
        `batches of ${batch}, ${runs} runs`,
      render(scalingRows(r)),
      ...scalingCapLines(r),
    );
  }
  if (suites.includes('guest')) {
    const r = await runGuest({
      runs,
      bytes: guestBytes,
      log,
      ...(values.memory ? { memory: values.memory } : {}),
      ...(profileMib ? { profileMib } : {}),
    });
    results.guest = r;
    out.push(
      '',
      `end to end in the guest (${r.kernel}, QEMU TCG), ${fixed(r.bytes / 2 ** 20, 0)} MiB per run, ${r.runs} runs`,
      render(guestRows(r)),
    );
    const syscalls = guestSyscallRows(r);
    out.push('', `syscalls: ${r.syscallMethod ?? 'not counted (a report from before syscall counts)'}`);
    if (syscalls.length) out.push(render(syscalls));
    const sizes = guestBatchRows(r);
    if (sizes.length) out.push('', 'our receivers: batches by fragment count (readiness events drained)', render(sizes));
    const zcrx = guestZcrxRows(r);
    if (zcrx.length) out.push('', 'io_uring zcrx against devmem and C, same runs', render(zcrx));
    for (const [name, why] of Object.entries(r.skipped ?? {})) out.push(`skipped: ${name} (${why})`);
    const scaling = guestScalingRows(r);
    if (scaling.length)
      out.push(
        '',
        `flows over queues in the guest (${r.scaling!.cpus} vCPU${r.scaling!.cpus === 1 ? '' : 's'}: workers overlap their waits, ` +
          `not their work), one flow per bound queue, ${fixed(r.bytes / 2 ** 20, 0)} MiB per flow, ${r.runs} runs`,
        render(scaling),
      );
    for (const [name, p] of Object.entries(r.profiles ?? {}))
      out.push(
        '',
        `perf record (cpu-clock) of ${name}: ${fixed(p.sample.bytes / 2 ** 20, 0)} MiB, CPU ${fixed(p.sample.cpuSeconds)} s ` +
          `(user ${fixed(p.sample.userSeconds ?? NaN)} s), ${p.samples} samples`,
        p.byThreadAndObject,
        p.bySymbol,
        'kernel functions, inclusive:',
        p.byKernelPath,
      );
    const startup = guestStartupRows(r);
    if (startup.length)
      out.push('', `devmem nc -l start-up in the guest (the kernel selftests wait 5 s for the listener), ${r.runs} runs`, render(startup));
  }
  const end = os.loadavg().map((l) => Math.round(l * 100) / 100);
  results.loadAverageEnd = end;
  out.push('', `load average ${end.join(' ')} at the end`);
  if (values.out) fs.writeFileSync(values.out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(values.json ? `${JSON.stringify(results, null, 2)}\n` : `${out.join('\n')}\n`);
  return 0;
}
