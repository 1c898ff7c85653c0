/**
 * Fragment pipeline: ABI-exact control areas replayed through our production
 * receive path (drain loop, parser, batch delivery to JS, release, coalescing,
 * DONTNEED encoding) in a child process, against the C reference doing the
 * same parse, coalesce and encode in a tight loop. One core each (the
 * replay never blocks). Also reports JS heap bytes allocated per fragment, and
 * one long run's RSS growth.
 */
import { buildCReference } from './c-reference';
import { receiverArgv, start } from './child';
import { fixed, median, pairedRatios, range } from './stats';

export interface PipelineOptions {
  fragments: number;
  runs: number;
  perRecvmsg: number;
  batch: number;
  /** Fragments of the single RSS run (0 skips it). */
  rssFragments: number;
  log?: (line: string) => void;
}

export interface PipelineSummary {
  oursRate: number[];
  cRate: number[];
  ratioToC: number[];
  heapBytesPerFragment: number[];
  dontneedPerMiFragments: number;
  cDontneedPerMiFragments: number;
  batchesPerRun: number;
  /**
   * RSS of the long run, sampled every 1% of it. The heap and the garbage
   * column arrays make RSS swing between collections, so growth is read off
   * the floor (RSS right after a collection) and the peaks: the lowest and
   * highest sample of the first quarter (after 10% warm-up) against those of
   * the last quarter.
   */
  rss?: { fragments: number; samples: number[]; floorGrowthBytes: number; peakGrowthBytes: number; swingBytes: number };
}

async function ours(fragments: number, o: PipelineOptions, sampleEvery = 1e6): Promise<Record<string, unknown>> {
  return start(receiverArgv('pipeline-rx', [String(fragments), String(o.perRecvmsg), String(o.batch), String(sampleEvery)])).result;
}

export async function runPipeline(o: PipelineOptions): Promise<PipelineSummary> {
  const c = buildCReference();
  const s: PipelineSummary = {
    oursRate: [],
    cRate: [],
    ratioToC: [],
    heapBytesPerFragment: [],
    dontneedPerMiFragments: 0,
    cDontneedPerMiFragments: 0,
    batchesPerRun: 0,
  };
  for (let run = 0; run < o.runs; run++) {
    // Allocation is counted from the first sample on: the first tenth warms up.
    const r = (await ours(o.fragments, o, Math.max(2 ** 16, Math.floor(o.fragments / 10)))) as Record<string, number>;
    const cr = await start([
      c,
      'pipeline',
      '--fragments',
      String(o.fragments),
      '--per-recvmsg',
      String(o.perRecvmsg),
      '--batch',
      String(o.batch),
    ]).result;
    s.oursRate.push(r.fragments! / r.cpuSeconds!);
    s.cRate.push(cr.fragments! / cr.cpuSeconds!);
    if (typeof r.heapBytesPerFragment === 'number') s.heapBytesPerFragment.push(r.heapBytesPerFragment);
    s.dontneedPerMiFragments = (r.dontneedCalls! / r.fragments!) * 2 ** 20;
    s.cDontneedPerMiFragments = (cr.dontneedCalls! / cr.fragments!) * 2 ** 20;
    s.batchesPerRun = r.batches!;
    o.log?.(
      `pipeline run ${run + 1}/${o.runs}: ours ${fixed(s.oursRate.at(-1)! / 1e6, 1)} M fragments/s, C ${fixed(s.cRate.at(-1)! / 1e6, 1)} M/s`,
    );
  }
  s.ratioToC = pairedRatios(s.oursRate, s.cRate);
  if (o.rssFragments > 0) {
    const every = Math.max(1e6, Math.floor(o.rssFragments / 100));
    const r = await ours(o.rssFragments, o, every);
    const samples = r.rssSamples as number[];
    const steady = samples.slice(Math.ceil(samples.length / 10));
    const q = Math.max(1, Math.floor(steady.length / 4));
    const first = steady.slice(0, q);
    const last = steady.slice(-q);
    s.rss = {
      fragments: r.fragments as number,
      samples,
      floorGrowthBytes: Math.min(...last) - Math.min(...first),
      peakGrowthBytes: Math.max(...last) - Math.max(...first),
      swingBytes: Math.max(...steady) - Math.min(...steady),
    };
    o.log?.(
      `pipeline RSS run: ${r.fragments} fragments, floor ${fixed(s.rss.floorGrowthBytes / 2 ** 20, 2)} MiB, peak ${fixed(s.rss.peakGrowthBytes / 2 ** 20, 2)} MiB`,
    );
  }
  return s;
}

export function pipelineRows(s: PipelineSummary): string[][] {
  const spread = (v: number[], scale = 1, unit = '') => {
    const [lo, hi] = range(v);
    return `${fixed(median(v) / scale, 1)}${unit} (${fixed(lo / scale, 1)}-${fixed(hi / scale, 1)}${unit})`;
  };
  const [rlo, rhi] = range(s.ratioToC);
  return [
    [
      'path',
      'fragments/s on one core (median, min-max)',
      'ratio to C (median, min-max)',
      'JS heap bytes per fragment',
      'DONTNEED calls per 2^20 fragments',
    ],
    [
      'DevmemSocket (replay source)',
      spread(s.oursRate, 1e6, ' M'),
      `${fixed(median(s.ratioToC))} (${fixed(rlo)}-${fixed(rhi)})`,
      s.heapBytesPerFragment.length ? fixed(median(s.heapBytesPerFragment), 3) : 'n/a',
      fixed(s.dontneedPerMiFragments, 0),
    ],
    ['C parse + coalesce + encode', spread(s.cRate, 1e6, ' M'), '1.00', '-', fixed(s.cDontneedPerMiFragments, 0)],
  ];
}
