// A container as Kubernetes with netkit builds one: a netkit pair whose guest
// (peer) end sits in a network namespace of its own, routed through the local
// namespace (the "host"), which forwards between it and the netdevsim link.
// Nothing here leases: that is what the tests exercise.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { e2eEnv } from './env';
import { runRemote } from './remote';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const FORWARD = '/proc/sys/net/ipv4/ip_forward';
const PAIR_SCRIPT = path.join(__dirname, '../fixtures/netkit-pair.py');
let containers = 0;

export class NetkitContainer {
  readonly netns: string;
  /** The primary end, in the local namespace. */
  readonly host: string;
  /** The guest (peer) end, inside `netns`: the container's interface, the one leases go to. */
  readonly guest: string;
  /** The guest's address, routed to from the local and remote namespaces. */
  readonly addr4: string;
  guestIfindex = 0;
  #forward: string | undefined;
  #remoteRoute = false;

  constructor(readonly rxQueues = 4) {
    const tag = randomBytes(3).toString('hex');
    this.netns = `dmt-nk${tag}`;
    this.host = `nkh${tag}`;
    this.guest = `nkg${tag}`;
    // One /32 per container, so two at once never collide.
    this.addr4 = `10.77.${(containers++ % 250) + 1}.2`;
  }

  /** `argv` inside the container's namespace. */
  argv(argv: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', this.netns, ...argv];
  }

  async create(): Promise<this> {
    const env = e2eEnv();
    ip('netns', 'add', this.netns);
    // l3 mode (no ARP, no MACs); both ends get rxQueues RX queues to create
    // leased ones in (a netkit device starts with one real queue). The lab's
    // iproute2 predates netkit, so a small rtnetlink script makes the pair.
    execFileSync('/usr/bin/python3', [PAIR_SCRIPT, this.host, this.guest, String(this.rxQueues)], { stdio: ['ignore', 'pipe', 'pipe'] });
    ip('link', 'set', this.guest, 'netns', this.netns);
    ip('link', 'set', this.host, 'up');
    ip('route', 'add', `${this.addr4}/32`, 'dev', this.host);
    ip('-n', this.netns, 'link', 'set', 'lo', 'up');
    ip('-n', this.netns, 'link', 'set', this.guest, 'up');
    ip('-n', this.netns, 'addr', 'add', `${this.addr4}/32`, 'dev', this.guest);
    ip('-n', this.netns, 'route', 'add', 'default', 'dev', this.guest);
    const link = JSON.parse(ip('-n', this.netns, '-j', 'link', 'show', 'dev', this.guest)) as { ifindex: number }[];
    this.guestIfindex = link[0]!.ifindex;
    this.#forward = fs.readFileSync(FORWARD, 'utf8').trim();
    fs.writeFileSync(FORWARD, '1');
    await runRemote(['ip', 'route', 'add', `${this.addr4}/32`, 'via', env.addr4Local]);
    this.#remoteRoute = true;
    return this;
  }

  /** Deletes the pair (which ends any lease it holds), the namespace and the routes. */
  async remove(): Promise<void> {
    if (this.#remoteRoute) await runRemote(['ip', 'route', 'del', `${this.addr4}/32`], { check: false });
    this.#remoteRoute = false;
    try {
      ip('link', 'del', this.host);
    } catch {
      // already gone (a test deleted it)
    }
    try {
      ip('netns', 'del', this.netns);
    } catch {
      // already gone
    }
    if (this.#forward !== undefined) fs.writeFileSync(FORWARD, this.#forward);
    this.#forward = undefined;
  }

  /** The id the local namespace has for the container's (`ip netns list-id`), or undefined. */
  idHere(): number | undefined {
    const m = new RegExp(`^nsid (\\d+) \\(iproute2 netns name: ${this.netns}\\)`, 'm').exec(ip('netns', 'list-id'));
    return m ? Number(m[1]) : undefined;
  }

  /** The id the container's namespace has for the local one, or undefined. */
  idOfLocal(): number | undefined {
    const m = new RegExp(`^nsid (\\d+) \\(iproute2 netns name: ${e2eEnv().netnsLocal}\\)`, 'm').exec(
      ip('-n', this.netns, 'netns', 'list-id'),
    );
    return m ? Number(m[1]) : undefined;
  }
}
