import { reportError } from './lib/errors.js';
import { parseRenderArgv } from './lib/render-argv.js';
import { runRender } from './lib/render-run.js';

/**
 * `meshwasm render` without oclif. Loading @oclif/core and its config costs about as much as the
 * whole render (bench/cli.mjs), and render is the command users run in pipelines, so bin/run.js
 * comes here first. argv is parsed by cli/lib/render-argv.ts from the same flag table as the oclif
 * command, then cli/lib/render-run.ts does exactly what the oclif command does.
 *
 * Returns false, having done nothing, when argv is for oclif to handle (help, usage errors,
 * anything the lean parser does not replicate exactly); bin/run.js then runs oclif as usual.
 */
let pipeGuarded = false;

export async function renderWithoutOclif(argv: readonly string[]): Promise<boolean> {
  const request = parseRenderArgv(argv, process.env);
  if (!request) return false;
  if (!pipeGuarded) {
    // As oclif's Command does: a closed pipe (`meshwasm render | head`) is not an error.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
    pipeGuarded = true;
  }
  try {
    await runRender(request);
  } catch (error) {
    const exitCode = reportError(error);
    if (exitCode !== undefined) {
      // exitCode, not exit(): stdout and stderr still drain before the process ends.
      process.exitCode = exitCode;
    } else {
      // Unexpected (a bug): oclif's handler prints it the way the oclif path would.
      const { handle } = await import('@oclif/core');
      await handle(error as Error);
    }
  }
  return true;
}
