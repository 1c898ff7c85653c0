import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

import { ip } from './root';

/**
 * A veth pair: one end in the test's (root) namespace, the peer in a fresh
 * network namespace that remove() deletes, taking both ends with it.
 */
export class VethPair {
  readonly netns: string;
  readonly local: string;
  readonly peer: string;

  constructor(
    readonly rxQueues: number,
    readonly txQueues: number,
  ) {
    const tag = randomBytes(3).toString('hex');
    this.netns = `dmt-${tag}`;
    this.local = `dmt${tag}a`;
    this.peer = `dmt${tag}b`;
  }

  create(): this {
    ip('netns', 'add', this.netns);
    ip(
      'link',
      'add',
      this.local,
      'numrxqueues',
      String(this.rxQueues),
      'numtxqueues',
      String(this.txQueues),
      'type',
      'veth',
      'peer',
      'name',
      this.peer,
      'netns',
      this.netns,
    );
    ip('link', 'set', this.local, 'up');
    ip('-n', this.netns, 'link', 'set', this.peer, 'up');
    return this;
  }

  get ifindex(): number {
    return Number(fs.readFileSync(`/sys/class/net/${this.local}/ifindex`, 'utf8'));
  }

  remove(): void {
    try {
      ip('netns', 'del', this.netns);
    } catch {
      // already gone
    }
    try {
      ip('link', 'del', this.local);
    } catch {
      // deleted with the namespace
    }
  }
}
