import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

import { ip } from './root';

/**
 * A veth pair: one end in the test's (root) namespace, the peer in a fresh
 * network namespace that remove() deletes, taking both ends with it.
 *
 * Where the test runs without an `ip` it can execute (the arm64 proof runs
 * host tests under qemu-user in an arm64 root), the harness makes the pair
 * itself and names it in DEVMEM_TEST_VETH ("local peer netns", 4 RX and 4 TX
 * queues); create() and remove() then adopt it and leave it to the harness.
 */
export class VethPair {
  readonly netns: string;
  readonly local: string;
  readonly peer: string;
  readonly #adopted: boolean;

  constructor(
    readonly rxQueues: number,
    readonly txQueues: number,
  ) {
    const given = process.env.DEVMEM_TEST_VETH?.split(' ');
    this.#adopted = given?.length === 3 && rxQueues === 4 && txQueues === 4;
    const tag = randomBytes(3).toString('hex');
    this.netns = this.#adopted ? given![2]! : `dmt-${tag}`;
    this.local = this.#adopted ? given![0]! : `dmt${tag}a`;
    this.peer = this.#adopted ? given![1]! : `dmt${tag}b`;
  }

  create(): this {
    if (this.#adopted) return this;
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
    if (this.#adopted) return;
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
