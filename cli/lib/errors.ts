import type { Command } from '@oclif/core';

/**
 * How a command ends on an error: the message goes to stderr as one block, stdout gets nothing,
 * and the exit code says whose fault it is (2 = usage, 1 = everything else). Errors without an
 * exitCode are unexpected and keep oclif's default handling (stack trace with DEBUG).
 */

/** Writes a known error's message and returns its exit code; for an unexpected error, writes nothing and returns undefined. */
export function reportError(error: unknown): number | undefined {
  const exitCode = (error as { exitCode?: unknown }).exitCode;
  if (typeof exitCode !== 'number' || !(error instanceof Error)) return undefined;
  process.stderr.write(`Error: ${error.message}\n`);
  return exitCode;
}

export function exitOnError(command: Command, error: unknown): never {
  const exitCode = reportError(error);
  if (exitCode !== undefined) command.exit(exitCode);
  throw error;
}
