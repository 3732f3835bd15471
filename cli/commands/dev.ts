import { Command, Flags } from '@oclif/core';
import { DEFAULT_LISTEN, DEFAULT_UPSTREAM } from '../lib/dev-options.js';
import { type DevSession, LEVELS, startDev } from '../lib/dev-run.js';
import { exitOnError } from '../lib/errors.js';
import { givenSettings, renderFlags } from '../lib/oclif-flags.js';
import { outputFlag, printJsonLine } from '../lib/output-flag.js';

/** render's settings flags, minus the ones about printing manifests. */
function settingsFlags() {
  const { 'print-values': _p, output: _o, 'output-dir': _d, ...flags } = renderFlags();
  return flags;
}

export default class Dev extends Command {
  static override summary =
    'Run the filter locally in front of an upstream, in the Node host (default) or in real Envoy.';

  static override description = `With no flags this is the reference scenario: listen on ${DEFAULT_LISTEN}, requests go to back-golang at ${DEFAULT_UPSTREAM}, and the filter's callout cluster (outbound|8444||back-python.jump-app-dev.svc.cluster.local) goes to back-python at http://127.0.0.1:8444.

The filter configuration is built exactly as \`render\` builds it: the same flags, MESHWASM_* variables and -f values file. --cluster NAME=URL (repeatable) maps a cluster name to a URL, overriding the default mapping.

URLs (--upstream, --cluster) are http://HOST:PORT: any host, loopback or not, no path, no credentials (neither engine would send them; they are never echoed).

--engine node runs meshwasm's proxy-wasm host (needs nothing); --engine envoy runs real Envoy (MESHWASM_ENVOY, the component cache, or envoy on PATH).

stdout gets the listening URL (with -o json, one JSON line {url, engine} when listening and one {url, engine, requests, callouts: {total, byOutcome}, latencyMs: {p50, p99}} after draining); stderr gets one access-log line per request (method, path, status, duration, callouts and their outcomes), the filter's log lines with their level, and on Ctrl-C/SIGTERM a summary (requests, callouts by outcome, p50/p99) after draining.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --engine envoy --mode blocking --failure-status 503',
    '<%= config.bin %> <%= command.id %> -f values.yaml --listen 127.0.0.1:0 --upstream http://127.0.0.1:8080',
    '<%= config.bin %> <%= command.id %> --wasm other.wasm --config \'{"cluster":"back"}\' --cluster back=http://127.0.0.1:8000',
  ];

  static override flags = {
    ...settingsFlags(),
    engine: Flags.option({
      options: ['node', 'envoy'] as const,
      default: 'node' as const,
      summary: 'node: the built-in proxy-wasm host; envoy: real Envoy.',
    })(),
    wasm: Flags.string({
      summary: 'The filter module (default: filter/build/plugin.wasm; build it with `meshwasm build`).',
    }),
    listen: Flags.string({
      default: DEFAULT_LISTEN,
      summary: 'HOST:PORT to listen on (port 0 = any free port).',
    }),
    upstream: Flags.string({
      default: DEFAULT_UPSTREAM,
      summary: 'Where requests go after the filter: http://HOST:PORT.',
    }),
    cluster: Flags.string({
      multiple: true,
      summary: 'Map an Envoy cluster name to a URL: NAME=http://HOST:PORT (repeatable).',
    }),
    config: Flags.string({
      summary: 'A raw plugin configuration (JSON) instead of the settings, e.g. for another module.',
      exclusive: ['config-file'],
    }),
    'config-file': Flags.string({
      summary: 'Read the raw plugin configuration (JSON) from FILE, or - for stdin.',
    }),
    'guest-timeout': Flags.integer({
      min: 1,
      summary:
        'Fail the VM (as after a trap) when one guest call runs longer than this many ms (default 2000; Envoy has no such limit). A Ctrl-C while a module loops takes effect then.',
    }),
    output: outputFlag(),
    'log-level': Flags.option({
      options: LEVELS,
      default: 'info' as const,
      summary: 'Lowest filter log level printed to stderr.',
    })(),
  };

  async run(): Promise<DevSession> {
    const { flags, raw } = await this.parse(Dev);
    try {
      const session = await startDev({
        engine: flags.engine,
        wasm: flags.wasm,
        listen: flags.listen,
        guestTimeoutMs: flags['guest-timeout'],
        upstream: flags.upstream,
        clusters: flags.cluster ?? [],
        given: givenSettings(flags, raw),
        values: flags.values as string | undefined,
        config: flags.config,
        configFile: flags['config-file'],
        logLevel: flags['log-level'],
      });
      const json = flags.output === 'json';
      const stop = () =>
        void session.stop().then(
          () => {
            // -o json: one JSON line when listening, one with the summary after draining.
            if (json) printJsonLine({ url: session.url, engine: session.engine, ...session.traffic.stats() });
            process.exit(0);
          },
          () => process.exit(1),
        );
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (json) printJsonLine({ url: session.url, engine: session.engine });
      else this.log(session.url);
      return {
        ...session,
        stop: async () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          await session.stop();
        },
      };
    } catch (error) {
      exitOnError(this, error);
    }
  }
}
