import { Config, Errors, flush, handle, run } from '@oclif/core';

import { closest } from '../../renderers/did-you-mean.js';
import { reportError } from './errors.js';

/**
 * The oclif side of bin/run.js, with kubectl's habits: -h is --help everywhere, --version is
 * `meshwasm version`, and every error has one style: "Error: …" on stderr, nothing on stdout. A
 * misspelt command or flag gets one line with a did-you-mean and the usage line (not the whole
 * help), exit 2, like every other usage error; exit 1 is left for bugs and registry/cluster faults.
 */

/** -h → --help (up to a "--"), and a lone --version/-v → the version command. */
export function normalizeArgv(argv: readonly string[]): string[] {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) return ['version'];
  const end = argv.indexOf('--');
  return argv.map((token, i) => (token === '-h' && (end === -1 || i < end) ? '--help' : token));
}

function usageLine(config: Config, id: string | undefined): string {
  const command = id ? config.findCommand(id) : undefined;
  if (!command) return `Usage: ${config.bin} COMMAND [FLAGS] (commands: ${commandIds(config).join(', ')})`;
  const args = Object.entries(command.args ?? {})
    .map(([name, arg]) =>
      arg.required ? name.toUpperCase() : `[${name.toUpperCase()}${arg.multiple ? '...' : ''}]`,
    )
    .join(' ');
  return `Usage: ${config.bin} ${id}${args ? ` ${args}` : ''} [FLAGS]; see ${config.bin} ${id} --help`;
}

function commandIds(config: Config): string[] {
  return config.commands
    .filter((command) => !command.hidden)
    .map((command) => command.id)
    .sort();
}

function flagNames(config: Config, id: string): string[] {
  const flags = config.findCommand(id)?.flags ?? {};
  return Object.keys(flags);
}

function usageError(config: Config, id: string | undefined, message: string): void {
  process.stderr.write(`Error: ${message}\n${usageLine(config, id)}\n`);
  process.exitCode = 2;
}

/** oclif's parser errors that do not carry the parse (a flag without its value, a missing flag). */
const PARSE_MESSAGE = /^(Flag --\S+ expects a value|Missing required flag|Expected --|command \S+ not found)/;

/** Reports an error the way every meshwasm command does; returns without throwing. */
export async function reportCliError(error: unknown, config: Config, id: string | undefined): Promise<void> {
  if (error instanceof Errors.ExitError) {
    process.exitCode = error.oclif.exit;
    return;
  }
  if (error instanceof Errors.CLIError && ('parse' in error || PARSE_MESSAGE.test(error.message))) {
    // oclif's parse errors: first line only, in our words where we have better ones.
    const first =
      error.message
        .split('\n')
        .map((line) => line.trim())
        .find((line) => line !== '' && !/^The following errors? occurred:$/.test(line)) ?? error.message;
    const unknown = /^Nonexistent flags?: (.+)$/.exec(first);
    if (unknown && id) {
      const names = flagNames(config, id);
      const flag = unknown[1].split(', ')[0];
      const guess = closest(flag.replace(/^-+/, '').replace(/=.*$/, ''), names);
      usageError(config, id, `unknown flag ${flag}${guess ? `; did you mean --${guess}?` : ''}`);
    } else {
      usageError(config, id, first);
    }
    return;
  }
  if (reportError(error) !== undefined) {
    process.exitCode = (error as { exitCode: number }).exitCode;
    return;
  }
  if (error instanceof Errors.CLIError) {
    // this.error() in a command: its message, our style, its exit code.
    process.stderr.write(`Error: ${error.message}\n`);
    process.exitCode = error.oclif.exit ?? 1;
    return;
  }
  // Unexpected: a bug. oclif prints it (with the stack under DEBUG) and sets exit code 1.
  await handle(error as Error);
}

export async function main(argv: readonly string[], root: string): Promise<void> {
  const args = normalizeArgv(argv);
  const config = await Config.load(root);
  const id = args[0] !== undefined && !args[0].startsWith('-') ? args[0] : undefined;
  if (id && !config.findCommand(id) && !config.findTopic(id)) {
    const guess = closest(id, commandIds(config));
    usageError(
      config,
      undefined,
      `unknown command ${JSON.stringify(id)}${guess ? `; did you mean ${guess}?` : ''}`,
    );
    return;
  }
  try {
    await run(args, config);
    await flush();
  } catch (error) {
    await reportCliError(error, config, id);
  }
}
