import { readFile } from 'node:fs/promises';
import { Command, Flags } from '@oclif/core';
import { type Gateway, HostLoadError, LogLevel, startGateway } from '../../host/index.js';
import { UsageError } from '../../renderers/errors.js';
import { checkFilterConfig } from '../../renderers/filter-schema.js';
import { packagePath } from '../../renderers/package-root.js';
import { exitOnError } from '../lib/errors.js';
import { readInput } from '../lib/input.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'critical'] as const;

export default class Dev extends Command {
  static override summary =
    "Run the filter in front of a local upstream, through meshwasm's Envoy-faithful proxy-wasm host.";

  static override description = `Starts an HTTP gateway on 127.0.0.1. Every request runs through the filter the way Envoy runs it (request headers, body, response, on_log/on_done/on_delete), then goes to --upstream. The filter's callouts go to the URL given with --callout (for the configured cluster) or --cluster NAME=URL.
Prints the gateway URL on stdout; filter logs go to stderr. Stops on Ctrl-C.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --upstream http://127.0.0.1:8080 --callout http://127.0.0.1:8000 --config \'{"cluster":"outbound|8000||back-python"}\'',
    '<%= config.bin %> <%= command.id %> --upstream http://127.0.0.1:8080 --config-file filter.json --cluster back=http://127.0.0.1:8000 --port 0',
  ];

  static override flags = {
    wasm: Flags.file({
      summary: 'The filter module (default: filter/build/plugin.wasm; build it with `meshwasm build`).',
    }),
    config: Flags.string({
      summary: 'Filter configuration as a JSON object (same as WasmPlugin pluginConfig).',
      exclusive: ['config-file'],
    }),
    'config-file': Flags.string({ summary: 'Read the filter configuration from FILE, or - for stdin.' }),
    upstream: Flags.string({
      required: true,
      summary: 'Where requests go after the filter: http://127.0.0.1:PORT.',
    }),
    callout: Flags.string({ summary: 'URL the configured `cluster` resolves to (the callout target).' }),
    cluster: Flags.string({
      multiple: true,
      summary: 'Map an Envoy cluster name to a URL: NAME=http://127.0.0.1:PORT (repeatable).',
    }),
    port: Flags.integer({
      default: 10000,
      min: 0,
      max: 65535,
      summary: 'Port to listen on (0 = any free port).',
    }),
    'root-id': Flags.string({
      default: 'meshwasm',
      summary: 'Envoy root_id (the filter registers "meshwasm").',
    }),
    'guest-timeout': Flags.integer({
      min: 1,
      summary:
        'Fail the VM (as after a trap) when one guest call runs longer than this many ms. Envoy has no such limit; Ctrl-C also stops a looping module.',
    }),
    'fail-open': Flags.boolean({ summary: 'Pass requests through if the VM traps (Envoy fail_open).' }),
    'log-level': Flags.option({
      options: LEVELS,
      default: 'info' as const,
      summary: 'Lowest filter log level printed to stderr.',
    })(),
  };

  async run(): Promise<Gateway> {
    const { flags } = await this.parse(Dev);
    try {
      const wasmPath = flags.wasm ?? packagePath('filter', 'build', 'plugin.wasm');
      const wasm = await readFile(wasmPath).catch(() => {
        throw new UsageError(
          `--wasm: ${wasmPath} cannot be read; build the filter with \`meshwasm build\` or pass --wasm FILE`,
        );
      });
      const configText = flags['config-file']
        ? (await readInput(flags['config-file'], '--config-file')).text
        : (flags.config ?? '{}');
      const from = flags['config-file'] ? '--config-file' : '--config';
      let config: unknown;
      try {
        config = JSON.parse(configText);
      } catch (error) {
        throw new UsageError(`${from}: not valid JSON (${(error as Error).message}); give one JSON object`);
      }
      const problems = checkFilterConfig(config);
      if (problems.length > 0) {
        throw new UsageError(
          problems.map((p) => `${from}: ${p.property ? `${p.property}: ` : ''}${p.message}`).join('\n'),
        );
      }
      const clusters: Record<string, string> = {};
      for (const entry of flags.cluster ?? []) {
        const eq = entry.indexOf('=');
        if (eq <= 0)
          throw new UsageError(
            `--cluster: '${entry}' is not NAME=URL; e.g. --cluster back=http://127.0.0.1:8000`,
          );
        clusters[entry.slice(0, eq)] = entry.slice(eq + 1);
      }
      if (flags.callout) {
        const cluster = (config as { cluster?: unknown }).cluster;
        if (typeof cluster !== 'string')
          throw new UsageError(
            '--callout: the configuration has no `cluster` to point at it; set "cluster" or use --cluster NAME=URL',
          );
        clusters[cluster] = flags.callout;
      }
      const minLevel = LEVELS.indexOf(flags['log-level']) as LogLevel;
      const gateway = await startGateway({
        host: {
          wasm,
          rootId: flags['root-id'],
          pluginConfig: configText,
          clusters,
          failOpen: flags['fail-open'],
          trace: false,
          // A looping guest blocks the event loop: node:vm's watchdog stops it on SIGINT or timeout.
          guestWatchdog: { timeoutMs: flags['guest-timeout'], breakOnSigint: true },
          logSink: (e) => {
            if (e.level >= minLevel)
              process.stderr.write(
                `[${LEVELS[e.level]}] ${e.source === 'host' ? 'host: ' : ''}${e.message}\n`,
              );
          },
        },
        upstream: flags.upstream,
        listen: { port: flags.port, host: '127.0.0.1' },
      }).catch((error: unknown) => {
        if (error instanceof HostLoadError) throw new UsageError(`${wasmPath}: ${error.message}`);
        if (error instanceof Error && /^(clusters\.|upstream:)/.test(error.message))
          throw new UsageError(error.message);
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
          throw new UsageError(`--port: ${flags.port} is already in use; pick another port or --port 0`);
        throw error;
      });
      const stop = () => void gateway.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      this.log(gateway.url);
      process.stderr.write(`meshwasm dev: ${gateway.url} -> ${flags.upstream} (Ctrl-C to stop)\n`);
      return {
        ...gateway,
        close: async () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          await gateway.close();
        },
      };
    } catch (error) {
      exitOnError(this, error);
    }
  }
}
