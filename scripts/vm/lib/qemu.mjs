// @ts-check
// Boots the guest under QEMU and streams its console.
//
// TCG, not KVM: the build hosts' /dev/kvm is PVM, on which stock kernels die early.
// One vCPU by default: with two, multi-threaded TCG (QEMU 7.2) can run a stale
// translation of a just-patched static key (see
// docs/kernel-notes.md#static-keys-under-multi-threaded-tcg). Single-threaded TCG
// avoids that but switches vCPUs only every 100 ms, which made the devmem suite over
// three times slower; one vCPU costs about 15%. The guest has no NIC (-nic none): all traffic stays between the
// netns inside it. Two 9p shares: the host root read-only ("hostroot") and the job
// directory writable ("e2ejob").
import { createWriteStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { killTree, startChild } from './proc.mjs';

export const QEMU = 'qemu-system-x86_64';

/**
 * @typedef {object} Boot
 * @property {number | NodeJS.Signals | null} exitCode qemu's exit status, or the signal that stopped it
 * @property {boolean} timedOut
 * @property {number} wallMs
 */

/**
 * @param {{ vmlinuz: string, initramfs: string, jobDir: string, cpus?: number | undefined }} guest
 * @returns {string[]}
 */
export function qemuArgs({ vmlinuz, initramfs, jobDir, cpus = 1 }) {
  const cmdline = [
    'console=ttyS0',
    'panic=-1', // reboot at once on panic, which -no-reboot turns into a qemu exit
    'oops=panic',
    'loglevel=4', // errors on the console; the full log is saved to dmesg.txt
    'printk.time=1',
    'mitigations=off', // emulated CPU: the mitigations only cost time
  ].join(' ');
  return [
    '-accel',
    'tcg,thread=multi',
    '-cpu',
    'max',
    '-smp',
    String(cpus),
    '-m',
    '2048',
    '-nic',
    'none',
    '-nodefaults',
    '-no-reboot',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-kernel',
    vmlinuz,
    '-initrd',
    initramfs,
    '-append',
    cmdline,
    // multidevs=remap: the host root spans several filesystems; keeps inode numbers unique.
    '-virtfs',
    'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs',
    `local,path=${jobDir},mount_tag=e2ejob,security_model=none,multidevs=remap`,
  ];
}

/**
 * Boots once and resolves when qemu exits: { exitCode, timedOut, wallMs }.
 * Every console line is passed to onLine and appended to consoleLog.
 * @param {object} guest
 * @param {string} guest.vmlinuz
 * @param {string} guest.initramfs
 * @param {string} guest.jobDir
 * @param {number} [guest.cpus]
 * @param {number} guest.timeoutMs
 * @param {string} guest.consoleLog
 * @param {(line: string) => void} guest.onLine
 * @returns {Promise<Boot>}
 */
export function bootGuest({ vmlinuz, initramfs, jobDir, cpus, timeoutMs, consoleLog, onLine }) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const log = createWriteStream(consoleLog);
    const child = startChild(QEMU, qemuArgs({ vmlinuz, initramfs, jobDir, cpus }));
    let timedOut = false;
    // Splits a stream into lines; the decoder keeps UTF-8 characters split across
    // chunks intact (mocha's check marks).
    const lineSplitter = () => {
      const decoder = new StringDecoder('utf8');
      let partial = '';
      return {
        /** @param {Buffer} chunk */
        write(chunk) {
          log.write(chunk);
          partial += decoder.write(chunk).replace(/\r/g, '');
          const lines = partial.split('\n');
          partial = /** @type {string} */ (lines.pop());
          for (const line of lines) onLine(line);
        },
        flush() {
          partial += decoder.end();
          if (partial) onLine(partial);
          partial = '';
        },
      };
    };
    const out = lineSplitter();
    const err = lineSplitter();
    child.stdout.on('data', (chunk) => out.write(chunk));
    child.stderr.on('data', (chunk) => err.write(chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child, 'SIGTERM');
      setTimeout(() => killTree(child, 'SIGKILL'), 5000).unref();
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      log.end();
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      out.flush();
      err.flush();
      log.end(() => resolve({ exitCode: code ?? signal, timedOut, wallMs: Date.now() - t0 }));
    });
  });
}
