/**
 * Where `devmem nc` says things: human lines on stderr, and with --json one
 * JSON object per line on stdout (the final one has event "summary").
 */
import type { NicStep } from '../../lib/index';

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

  step(step: NicStep): void {
    const verb = { planned: 'plan', done: 'did', undone: 'undid', failed: 'FAILED to undo' }[step.state];
    this.log(`${verb}: ${step.description}`);
    this.event('nic-step', { kind: step.kind, state: step.state, description: step.description });
  }
}
