// Runs `npm run test:hw`'s suite (test/hw/run.ts) in the guest lab exactly as
// a hardware host would, configured by environment variables with
// REMOTE_TYPE=netns, and parses its KTAP output.
import * as path from 'node:path';

import { run } from '../../support/process';
import { e2eEnv } from './env';

export interface KtapRun {
  code: number;
  stdout: string;
  results: Map<string, { ok: boolean; skip?: string }>;
}

export async function runHwSuite(args: string[] = []): Promise<KtapRun> {
  const env = e2eEnv();
  const suiteEnv = {
    ...process.env,
    NETIF: env.ifLocal,
    LOCAL_V4: env.addr4Local,
    REMOTE_V4: env.addr4Remote,
    LOCAL_V6: env.addr6Local,
    REMOTE_V6: env.addr6Remote,
    REMOTE_TYPE: 'netns',
    REMOTE_ARGS: env.netnsRemote,
  };
  const entry = path.resolve(__dirname, '../../hw/run.ts');
  const { code, stdout } = await run([process.execPath, '--import', 'tsx', entry, ...args], { env: suiteEnv, timeoutMs: 1_200_000 });
  const results = new Map<string, { ok: boolean; skip?: string }>();
  for (const line of stdout.split('\n')) {
    const m = /^(not )?ok \d+ (\S+)(?: # SKIP (.*))?$/.exec(line);
    if (m) results.set(m[2]!, { ok: !m[1], ...(m[3] !== undefined ? { skip: m[3] } : {}) });
  }
  // Killed by a signal (or the timeout): a failure.
  return { code: code ?? 1, stdout, results };
}

export { HW_CASES } from '../../support/hw-cases';
