// WASI imports (cpp-host exports.cc wasi_unstable_*; identical under wasi_snapshot_preview1).
// Envoy gives a filter no files, sockets or arguments: stdout/stderr become log lines, clocks and
// randomness are real, the environment is vm_config.environment_variables, and the rest answers
// with the errno cpp-host returns, so a guest's libc behaves the same here as in the proxy.

import { randomFillSync } from 'node:crypto';
import { LogLevel } from './abi.js';
import type { HostFn } from './guest-calls.js';
import type { GuestMemory } from './memory.js';

/** The part of the VM the WASI functions touch. */
export interface WasiVm {
  readonly mem: GuestMemory;
  hostLog(level: LogLevel, message: string): void;
  guestLog(level: LogLevel, message: string): void;
}

export interface WasiOptions {
  /** Wall clock in ns (clock id 0). */
  now: () => bigint;
  environment: Record<string, string>;
}

const encoder = new TextEncoder();

/** The unguarded implementation of one WASI import (the caller adds the restricted-callback check). */
export function wasiFunction(name: string, vm: WasiVm, { now, environment }: WasiOptions): HostFn {
  switch (name) {
    case 'fd_write':
    case 'fd_pwrite':
      return name === 'fd_write'
        ? (fd: number, iovs: number, iovsLen: number, nwrittenPtr: number) =>
            writeToLog(vm, fd, iovs, iovsLen, nwrittenPtr)
        : (fd: number, iovs: number, iovsLen: number, _offset: bigint, nwrittenPtr: number) =>
            writeToLog(vm, fd, iovs, iovsLen, nwrittenPtr);
    case 'proc_exit':
      // Envoy logs and returns; AS follows proc_exit with `unreachable`, which is the trap.
      return (_code: number) => {
        vm.hostLog(LogLevel.error, 'wasi_unstable proc_exit');
      };
    case 'clock_time_get':
      return (id: number, _precision: bigint, resultPtr: number) => {
        let t: bigint;
        if (id === 0) t = now();
        else if (id === 1) t = process.hrtime.bigint();
        else return 58;
        return vm.mem.setU64(resultPtr, t) ? 0 : 21;
      };
    case 'clock_res_get':
      return (id: number, resultPtr: number) => {
        if (id !== 0 && id !== 1) return 58;
        return vm.mem.setU64(resultPtr, 1n) ? 0 : 21;
      };
    case 'random_get':
      return (ptr: number, len: number) => {
        if (len >>> 0 > 64 * 1024) return 28;
        if (len === 0) return 0;
        const bytes = randomFillSync(new Uint8Array(len >>> 0));
        return vm.mem.setBytes(ptr, bytes) ? 0 : 21;
      };
    case 'environ_sizes_get':
      return (countPtr: number, sizePtr: number) => {
        const env = Object.entries(environment ?? {});
        const size = env.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 2, 0);
        return vm.mem.setU32(countPtr, env.length) && vm.mem.setU32(sizePtr, size) ? 0 : 21;
      };
    case 'environ_get':
      return (arrayPtr: number, bufPtr: number) => {
        for (const [k, v] of Object.entries(environment ?? {})) {
          const data = encoder.encode(`${k}=${v}\0`);
          if (!vm.mem.setU32(arrayPtr, bufPtr) || !vm.mem.setBytes(bufPtr, data)) return 21;
          bufPtr += data.length;
          arrayPtr += 4;
        }
        return 0;
      };
    case 'args_sizes_get':
      return (argcPtr: number, sizePtr: number) =>
        vm.mem.setU32(argcPtr, 0) && vm.mem.setU32(sizePtr, 0) ? 0 : 21;
    case 'args_get':
    case 'sched_yield':
    case 'fd_advise':
      return () => 0;
    case 'poll_oneoff':
      return (_in: number, _out: number, _n: number, neventsPtr: number) =>
        vm.mem.setU32(neventsPtr, 0) ? 0 : 21;
    case 'fd_fdstat_get':
      return (fd: number, statPtr: number) => {
        if (fd !== 1 && fd !== 2) return 8;
        const stat = new Uint8Array(24);
        stat[8] = 64; // fs_rights_base = FD_WRITE
        vm.mem.setBytes(statPtr, stat);
        return 0;
      };
    case 'fd_seek':
    case 'fd_close':
      return () => {
        vm.hostLog(LogLevel.error, `wasi_unstable ${name}`);
        return 0;
      };
    case 'fd_read':
    case 'fd_pread':
    case 'fd_fdstat_set_flags':
    case 'fd_prestat_dir_name':
      return () => 52;
    case 'fd_prestat_get':
    case 'fd_filestat_get':
      return () => 8;
    case 'path_open':
      return () => 44;
    case 'fd_allocate':
    case 'fd_datasync':
    case 'fd_fdstat_set_rights':
    case 'fd_filestat_set_size':
    case 'fd_filestat_set_times':
    case 'fd_sync':
      return (fd: number) => (fd === 1 || fd === 2 ? 0 : 8);
    case 'fd_tell':
      return (fd: number, ptr: number) => {
        if (fd !== 1 && fd !== 2) return 8;
        return vm.mem.setU64(ptr, 0n) ? 0 : 21;
      };
    case 'fd_renumber':
      return (fd: number, to: number) => ((fd === 1 || fd === 2) && (to === 1 || to === 2) ? 58 : 8);
    case 'fd_readdir':
      return (_fd: number, _b: number, _l: number, _c: bigint, nreadPtr: number) =>
        vm.mem.setU32(nreadPtr, 0) ? 20 : 21;
    case 'path_readlink':
      return (_a: number, _b: number, _c: number, _d: number, _e: number, retPtr: number) =>
        vm.mem.setU32(retPtr, 0) ? 58 : 21;
    case 'sock_accept':
      return (_a: number, _b: number, retPtr: number) => (vm.mem.setU32(retPtr, 0) ? 58 : 21);
    case 'sock_recv':
      return (_a: number, _b: number, _c: number, _d: number, r0: number, r1: number) =>
        vm.mem.setU32(r0, 0) && vm.mem.setBytes(r1, new Uint8Array(2)) ? 58 : 21;
    case 'sock_send':
      return (_a: number, _b: number, _c: number, _d: number, r0: number) => (vm.mem.setU32(r0, 0) ? 58 : 21);
    default:
      return () => 58; // path_* and sock_shutdown: ENOTSUP
  }
}

function writeToLog(vm: WasiVm, fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
  let level: LogLevel;
  if (fd === 1) level = LogLevel.info;
  else if (fd === 2) level = LogLevel.error;
  else return 8;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < iovsLen >>> 0; i++) {
    const buf = vm.mem.getU32(iovs + i * 8);
    const len = vm.mem.getU32(iovs + i * 8 + 4);
    if (buf === null || len === null) return 21;
    if (len !== 0) {
      const v = vm.mem.copy(buf, len);
      if (v === null) return 21;
      parts.push(v);
    }
  }
  const bytes = Buffer.concat(parts);
  if (bytes.length > 0) {
    let s = bytes.toString('utf8');
    if (s.endsWith('\n')) s = s.slice(0, -1);
    vm.guestLog(level, s);
  }
  return vm.mem.setU32(nwrittenPtr, bytes.length) ? 0 : 21;
}
