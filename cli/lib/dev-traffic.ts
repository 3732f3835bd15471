import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * What `meshwasm dev` tells its user about the traffic, the same way for both engines: one access
 * log line per request (method, path, status, duration, and its callouts with their outcomes) and a
 * summary at the end (requests, callouts by outcome, p50/p99).
 *
 * The callouts are seen by a recorder in front of each callout cluster: the engine calls the
 * recorder, the recorder calls the cluster's URL and notes the outcome under the request's
 * x-request-id (which the filter propagates by default). Seen from there, a refused or reset
 * target reaches the engine as a connection closed before (or during) the response, and a callout
 * the engine gave up on (its timeout, or the client went away) is "cancelled".
 */

export interface CalloutRecord {
  requestId: string;
  /** HTTP status from the target, or refused | reset | cancelled. */
  outcome: string;
  done: boolean;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
}

export interface Recorder {
  url: string;
  close(): Promise<void>;
}

/** How long after a request ends its callouts may still be arriving at the recorder. */
const ARRIVAL_GRACE_MS = 100;
/** How long an access-log line waits for the request's async callouts to finish. */
const CALLOUT_WAIT_MS = 6000;

export class TrafficLog {
  private readonly callouts: CalloutRecord[] = [];
  private readonly durations: number[] = [];
  private requests = 0;
  private pending = new Set<Promise<void>>();
  private waiters = new Set<() => void>();

  constructor(private readonly write: (line: string) => void) {}

  /** A loopback recorder forwarding to `target` (http://HOST:PORT). */
  async recorder(target: string): Promise<Recorder> {
    const to = new URL(target);
    const sockets = new Set<Socket>();
    const server = http.createServer((req, res) => {
      const record: CalloutRecord = {
        requestId: String(req.headers['x-request-id'] ?? ''),
        outcome: 'cancelled',
        done: false,
      };
      this.callouts.push(record);
      const finish = (outcome: string) => {
        if (record.done) return;
        record.outcome = outcome;
        record.done = true;
        for (const w of this.waiters) w();
      };
      const out = http.request(
        {
          host: to.hostname,
          port: to.port || 80,
          method: req.method,
          path: req.url,
          headers: req.rawHeaders,
          setHost: false,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
          answer.pipe(res);
          answer.on('end', () => finish(String(answer.statusCode)));
          answer.on('aborted', () => {
            finish('reset');
            res.destroy();
          });
        },
      );
      out.on('error', (error: NodeJS.ErrnoException) => {
        finish(
          error.code === 'ECONNREFUSED'
            ? 'refused'
            : record.outcome === 'cancelled'
              ? 'reset'
              : record.outcome,
        );
        res.destroy();
      });
      req.pipe(out);
      res.on('close', () => {
        if (!record.done) finish('cancelled');
        out.destroy();
      });
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
    };
  }

  /** A request is over: print its line once its callouts are done (async ones may come later). */
  requestDone(request: RequestRecord): void {
    this.requests += 1;
    this.durations.push(request.durationMs);
    // An async callout may reach the recorder just after the response is done: give it a moment
    // to show up before counting.
    const done = new Promise((r) => setTimeout(r, ARRIVAL_GRACE_MS))
      .then(() => this.whenCalloutsDone(request.requestId))
      .then(() => {
        const mine = this.callouts.filter((c) => request.requestId && c.requestId === request.requestId);
        const outcomes = mine.map((c) => (c.done ? c.outcome : 'pending'));
        this.write(
          `${request.method} ${request.path} ${request.status || '-'} ${request.durationMs.toFixed(1)}ms callouts=${mine.length}${outcomes.length ? ` [${outcomes.join(',')}]` : ''}`,
        );
      });
    this.pending.add(done);
    void done.then(() => this.pending.delete(done));
  }

  private whenCalloutsDone(requestId: string): Promise<void> {
    const settled = () => !this.callouts.some((c) => c.requestId === requestId && !c.done);
    if (settled()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!settled()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve();
      }, CALLOUT_WAIT_MS);
      this.waiters.add(check);
    });
  }

  /** Every access-log line still waiting for its callouts has been written. */
  async drain(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** The summary as data (dev -o json): the same numbers as the summary line, latencies in ms. */
  stats(): DevStats {
    const byOutcome: Record<string, number> = {};
    for (const c of this.callouts) {
      const key = c.done ? c.outcome : 'pending';
      byOutcome[key] = (byOutcome[key] ?? 0) + 1;
    }
    return {
      requests: this.requests,
      callouts: { total: this.callouts.length, byOutcome },
      latencyMs: { p50: percentileMs(this.durations, 0.5), p99: percentileMs(this.durations, 0.99) },
    };
  }

  summary(): string {
    const outcomes = Object.entries(this.stats().callouts.byOutcome)
      .map(([k, n]) => `${k}=${n}`)
      .join(' ');
    return `meshwasm dev: ${this.requests} requests, ${this.callouts.length} callouts${outcomes ? ` (${outcomes})` : ''}, p50 ${percentile(this.durations, 0.5)} p99 ${percentile(this.durations, 0.99)}`;
  }
}

export interface DevStats {
  requests: number;
  callouts: { total: number; byOutcome: Record<string, number> };
  latencyMs: { p50: number | null; p99: number | null };
}

/** Nearest-rank percentile in ms, or null with no samples. */
function percentileMs(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1]!;
}

/** Nearest-rank percentile in ms, or "-" with no samples. */
export function percentile(values: readonly number[], p: number): string {
  const ms = percentileMs(values, p);
  return ms === null ? '-' : `${ms.toFixed(1)}ms`;
}
