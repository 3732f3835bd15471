import type {Command} from '@oclif/core'

/**
 * Ends a command on an error: the message goes to stderr as one block, stdout gets nothing, and
 * the exit code says whose fault it is (2 = usage, 1 = everything else). Errors without an
 * exitCode are unexpected and keep oclif's default handling (stack trace with DEBUG).
 */
export function exitOnError(command: Command, error: unknown): never {
  const exitCode = (error as {exitCode?: unknown}).exitCode
  if (typeof exitCode === 'number' && error instanceof Error) {
    process.stderr.write(`Error: ${error.message}\n`)
    command.exit(exitCode)
  }
  throw error
}
