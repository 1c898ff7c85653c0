/**
 * Where `devmem nc` says things: human lines on stderr, and with --json one
 * JSON object per line on stdout (the final one has event "summary").
 */
import type { NicStep, RecoveryReport } from '../../lib/index';

export type Fields = Record<string, unknown>;

export class Reporter {
  readonly json: boolean;

  constructor(json: boolean) {
    this.json = json;
  }

  log(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  event(event: string, fields: Fields = {}): void {
    // t: milliseconds since the process started, to place events on a timeline.
    if (this.json) process.stdout.write(`${JSON.stringify({ event, t: Math.round(performance.now()), ...fields })}\n`);
  }

  /** What NicConfig.open() undid (or would) that a killed devmem process had left on the NIC. */
  recovered(report: RecoveryReport | undefined): void {
    if (!report) return;
    const who = report.owner ? `pid ${report.owner.pid}, which is gone` : 'a process that is gone';
    this.log(`recovering: ${report.ifname} has changes left by ${who} (journal ${report.journal})`);
    for (const s of report.steps) this.log(`recovered: ${s.outcome}: ${s.description}`);
    this.event('nic-recovered', { ifname: report.ifname, owner: report.owner, dryRun: report.dryRun, steps: report.steps });
  }

  step(step: NicStep): void {
    const verb = { planned: 'plan', done: 'did', undone: 'undid', kept: 'kept', failed: 'FAILED to undo' }[step.state];
    this.log(`${verb}: ${step.description}`);
    this.event('nic-step', { kind: step.kind, state: step.state, description: step.description });
  }
}
