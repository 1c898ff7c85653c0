#!/usr/bin/env node
// Prints the path of liburing.a for binding.gyp, or nothing: the addon then
// builds without io_uring zcrx, which reports ZCRX_UNSUPPORTED saying how to
// get it. liburing is linked statically, so a prebuilt addon needs nothing
// installed. 2.9 (Debian trixie's liburing-dev) is the oldest release the
// zcrx code is built and tested with; it issues the zcrx calls liburing lacks
// through io_uring_register() itself.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const MIN = [2, 9];

function version(includeDir) {
  try {
    const h = fs.readFileSync(path.join(includeDir, 'liburing/io_uring_version.h'), 'utf8');
    const major = Number(/IO_URING_VERSION_MAJOR\s+(\d+)/.exec(h)?.[1]);
    const minor = Number(/IO_URING_VERSION_MINOR\s+(\d+)/.exec(h)?.[1]);
    return Number.isFinite(major) && Number.isFinite(minor) ? [major, minor] : undefined;
  } catch {
    return undefined;
  }
}

function libDirs() {
  const dirs = [];
  try {
    dirs.push(
      execFileSync('pkg-config', ['--variable=libdir', 'liburing'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    );
  } catch {
    // no pkg-config or no liburing.pc
  }
  try {
    const arch = execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (arch) dirs.push(`/usr/lib/${arch}`);
  } catch {
    // no gcc: node-gyp will say so itself
  }
  dirs.push('/usr/lib', '/usr/local/lib');
  return dirs.filter(Boolean);
}

function find() {
  if (process.env.DEVMEM_TCP_NO_LIBURING) return '';
  // A cross build names the target's liburing.a and the headers beside it
  // (scripts/prebuild/run.mjs): this host's own would be the wrong architecture.
  const named = process.env.DEVMEM_TCP_LIBURING;
  if (named) {
    const v = version(process.env.DEVMEM_TCP_LIBURING_INCLUDE ?? '');
    const ok = v && (v[0] > MIN[0] || (v[0] === MIN[0] && v[1] >= MIN[1])) && fs.existsSync(named);
    return ok ? named : '';
  }
  const v = version('/usr/include') ?? version('/usr/local/include');
  if (!v || v[0] < MIN[0] || (v[0] === MIN[0] && v[1] < MIN[1])) return '';
  for (const dir of libDirs()) {
    const lib = path.join(dir, 'liburing.a');
    if (fs.existsSync(lib)) return lib;
  }
  return '';
}

process.stdout.write(find());
