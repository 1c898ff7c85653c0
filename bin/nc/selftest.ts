/**
 * `devmem nc -f IF` with neither -s nor -c: ncdevmem's self-test, which the
 * kernel's devmem selftests use as their "can this host do devmem" probe.
 * These must fail: binding with no valid queue entries, and binding with
 * header split off. Binding with it on must succeed. Shrinking the channels
 * under a bound queue must fail. Stronger than ncdevmem: once the good bind
 * has shown the device can do devmem, the header-split failure must be the
 * header-split error and not some other refusal. Every bind carries -b's
 * rx-page-size, so `-f IF -b 16384` probes exactly what a `-l -b 16384` run
 * will need (see docs/kernel-notes.md#large-niov-cases-on-netdevsim); a
 * device without it makes the run a SKIP.
 */
import { DevmemError } from '../../lib/errors';
import * as ethtool from '../../lib/ethtool';
import { NicConfig } from '../../lib/nic-config';
import { native } from '../../lib/internal';
import { allocNcBuffer } from './buffer';
import type { NcOptions } from './options';
import { queuesGiven, resolveQueues } from './options';
import { EXIT_SKIP, fail, fromError, isSkip, ok, type Outcome } from './outcome';
import type { Reporter } from './reporter';

interface Check {
  name: string;
  passed: boolean;
  detail: string;
}

function describe(e: unknown): string {
  return e instanceof DevmemError ? `${e.reason}: ${e.message}` : String(e);
}

export async function runSelfTest(o: NcOptions, r: Reporter): Promise<Outcome> {
  // Read only when -t/-q leave the choice to us; the channel check reads it itself.
  const ch = queuesGiven(o) ? undefined : await ethtool.getChannels(o.iface);
  const { start, count } = resolveQueues(o, ch && ethtool.rxChannelCount(ch));
  const queues = Array.from({ length: count }, (_, i) => start + i);
  r.log(
    `self-test on ${o.iface}, queues ${start}..${start + count - 1}${o.rxPageSize === undefined ? '' : `, rx-page-size ${o.rxPageSize}`}`,
  );
  const bindOptions = o.rxPageSize === undefined ? {} : { rxPageSize: o.rxPageSize };
  // Every bound queue gone: the kernel must refuse while they are bound.
  const shrinkOf = (c: ethtool.Channels) =>
    (c.combinedCount ?? 0) > 0 && (c.rxCount ?? 0) === 0
      ? { combinedCount: start }
      : { rxCount: Math.max(0, start - (c.combinedCount ?? 0)) };

  if (o.dryRun) {
    const nic = await NicConfig.open(o.iface, { dryRun: true, onStep: (s) => r.step(s) });
    r.recovered(nic.recovered);
    await nic.isolateQueues(start).catch((e: unknown) => r.log(`(RSS isolation would be skipped: ${describe(e)})`));
    await nic.enableHeaderSplit();
    r.log('plan: bind-rx with an empty queue entry (must fail); header split off, bind-rx (must fail); header split on');
    nic.planBindRx(queues);
    await nic.setChannels(shrinkOf(ch ?? (await ethtool.getChannels(o.iface))));
    r.log('plan: the channel change must fail; then unbind and restore everything');
    return ok('dry run: nothing was changed');
  }

  const checks: Check[] = [];
  const record = (c: Check) => {
    checks.push(c);
    r.log(`${c.passed ? 'ok' : 'FAIL'}: ${c.name}${c.detail ? ` (${c.detail})` : ''}`);
    r.event('check', { ...c });
  };

  const dmabuf = allocNcBuffer(o.memory, o.rxPageSize);
  const nic = await NicConfig.open(o.iface, { onStep: (s) => r.step(s) });
  r.recovered(nic.recovered);
  let outcome: Outcome;
  try {
    try {
      await nic.isolateQueues(start);
    } catch (e) {
      if (!(e instanceof DevmemError && e.reason === 'RSS_UNSUPPORTED')) throw e;
      r.log(`RSS isolation skipped: the device has no RSS table (${e.code})`);
    }
    await nic.enableHeaderSplit();

    // 1. Queue entries with neither id nor type: the library would refuse
    // them, so they go to the kernel through the raw binding call.
    try {
      // Synchronous, like every bind here: no signal handler can find it made but unknown.
      const b = native().bindSync('bind-rx', { ifindex: nic.ifindex, fd: dmabuf.fd, queues: [{}], ...bindOptions });
      b.close();
      record({ name: 'bind-rx with no valid queues fails', passed: false, detail: 'the kernel accepted it' });
    } catch (e) {
      record({ name: 'bind-rx with no valid queues fails', passed: true, detail: `${(e as { code?: string }).code ?? e}` });
    }

    // 2. Header split off.
    await ethtool.setRings(nic.ifindex, { tcpDataSplit: 'disabled' });
    let offError: unknown;
    try {
      const b = await nic.bindRx(queues, dmabuf, bindOptions);
      b.close();
    } catch (e) {
      offError = e;
    }
    await ethtool.setRings(nic.ifindex, { tcpDataSplit: 'enabled', hdsThresh: 0 });

    // 3. Header split on: the device must take the binding, or it cannot do devmem at all.
    let binding;
    try {
      binding = await nic.bindRx(queues, dmabuf, bindOptions);
    } catch (e) {
      if (isSkip(e)) {
        r.log(`skip: ${o.iface} cannot do devmem RX: ${describe(e)}`);
        return { ...fromError(e), exitCode: EXIT_SKIP, result: 'skip' };
      }
      record({ name: 'bind-rx with header split on succeeds', passed: false, detail: describe(e) });
    }
    const offOk = offError instanceof DevmemError && (!binding || offError.reason === 'HEADER_SPLIT_DISABLED');
    record({
      name: 'bind-rx with header split off fails',
      passed: offOk,
      detail: offError === undefined ? 'the kernel accepted it' : describe(offError),
    });
    if (binding) {
      record({ name: 'bind-rx with header split on succeeds', passed: true, detail: `dmabuf id ${binding.id}` });
      // 4. Deactivating bound queues.
      try {
        await nic.setChannels(shrinkOf(ch ?? (await ethtool.getChannels(o.iface))));
        record({ name: 'shrinking the channels under a bound queue fails', passed: false, detail: 'the kernel accepted it' });
      } catch (e) {
        record({ name: 'shrinking the channels under a bound queue fails', passed: e instanceof DevmemError, detail: describe(e) });
      }
    }
    const failed = checks.filter((c) => !c.passed);
    outcome =
      failed.length === 0
        ? ok(`${checks.length} checks passed`)
        : fail(`${failed.length} of ${checks.length} checks failed: ${failed.map((c) => c.name).join('; ')}`);
  } finally {
    try {
      nic.close();
    } finally {
      dmabuf.close();
    }
  }
  r.event('checks', { checks });
  return outcome;
}
