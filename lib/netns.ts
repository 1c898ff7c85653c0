/**
 * Network namespaces named the way `ip netns` and container runtimes name
 * them, opened for the native layer, which makes its netlink socket inside
 * (a netlink socket lives in the namespace it was created in).
 */
import * as fs from 'node:fs';

import { DevmemError, invalidArgument } from './errors';

/**
 * A network namespace: a name under /run/netns (what `ip netns add NAME`
 * makes), a path to a namespace file (`/run/netns/NAME`,
 * `/proc/PID/ns/net`, a bind mount a container runtime made), or the pid
 * of a process in it (a container's init, say).
 */
export type NetnsSpec = string | number;

/** @internal An open namespace file; close() when done. */
export interface OpenNetns {
  /** The path opened. */
  path: string;
  /** Its fd, for the native layer's setns(). */
  fd: number;
  /** True when it is the caller's own namespace. */
  own: boolean;
  close(): void;
}

/** @internal The path a NetnsSpec names. */
export function netnsPath(spec: NetnsSpec): string {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 1) throw invalidArgument(`a netns pid must be a positive integer, got ${spec}`);
    return `/proc/${spec}/ns/net`;
  }
  if (typeof spec !== 'string') throw new TypeError(`a netns must be a name, a path or a pid, got ${spec === null ? 'null' : typeof spec}`);
  if (spec.includes('/')) return spec;
  if (spec === '' || spec === '.' || spec === '..' || /[\s\0]/.test(spec))
    throw invalidArgument(`${JSON.stringify(spec)} is not a netns name`);
  return `/run/netns/${spec}`;
}

/** @internal Opens the namespace `spec` names; NO_SUCH_DEVICE when there is none. */
export function openNetns(spec: NetnsSpec): OpenNetns {
  const path = netnsPath(spec);
  let fd: number;
  try {
    fd = fs.openSync(path, 'r'); // Node opens every file O_CLOEXEC
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DevmemError(`cannot open network namespace ${path}: ${err.message}`, {
      reason: err.code === 'EACCES' || err.code === 'EPERM' ? 'NOT_PERMITTED' : 'NO_SUCH_DEVICE',
      ...(typeof err.errno === 'number' ? { errno: err.errno } : {}),
      syscall: 'open',
      cause: e,
    });
  }
  let own = false;
  try {
    const here = fs.statSync('/proc/self/ns/net');
    const there = fs.fstatSync(fd);
    own = here.dev === there.dev && here.ino === there.ino;
  } catch {
    // /proc unreadable: treat it as another namespace, which only costs a netns id.
  }
  let open = true;
  return {
    path,
    fd,
    own,
    close() {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}
