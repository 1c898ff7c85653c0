/** What the numbers were measured on, printed with every report. */
import * as os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  loadAverage: number[];
}

export function machine(): Machine {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    kernel: os.release(),
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function describeMachine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}, load average ${m.loadAverage.join(' ')} at start`;
}
