// What the guest (proxy_log, WASI stdout/stderr) and the host itself (traps, proc_exit) logged.
// Kept in memory for inspection and optionally streamed to a live sink.

import { LogLevel } from './abi.js';

export interface LogEntry {
  level: LogLevel;
  message: string;
  /** Context the call ran in (0 = VM). */
  contextId: number;
  /** 'guest' = proxy_log / fd_write; 'host' = what Envoy itself logs (traps, proc_exit). */
  source: 'guest' | 'host';
}

// A runaway guest must not grow the host without bound: past the cap, the older half goes.
const MAX_LOGS = 100_000;

export class LogBook {
  private entries: LogEntry[] = [];

  constructor(private readonly sink?: (entry: LogEntry) => void) {}

  push(entry: LogEntry): void {
    if (this.entries.length >= MAX_LOGS) this.entries.splice(0, MAX_LOGS / 2);
    this.entries.push(entry);
    this.sink?.(entry);
  }

  atLeast(minLevel: LogLevel): LogEntry[] {
    return this.entries.filter((l) => l.level >= minLevel);
  }

  /** The newest error-or-worse entry, for load errors ("Failed to start ... (why)"). */
  lastError(): LogEntry | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--)
      if (this.entries[i]!.level >= LogLevel.error) return this.entries[i];
    return undefined;
  }

  clear(): void {
    this.entries = [];
  }
}
