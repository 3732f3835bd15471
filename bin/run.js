#!/usr/bin/env node
// `meshwasm render` runs without oclif when its argv allows (cli/render-main.ts): loading oclif
// would cost as much as the render itself. Everything else, and any render argv the lean parser
// leaves to oclif, goes through oclif (cli/lib/entry.ts). MESHWASM_OCLIF=1 forces oclif (tests
// compare both paths). The lean entry is loaded the way renderers/load-module.ts loads render's
// own modules.
//
// A reader that goes away (`meshwasm render 2>&1 | head -1`) is not an error: the write fails with
// EPIPE on stdout or stderr, and the process ends quietly, as kubectl does.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
}
const argv = process.argv.slice(2);
let rendered = false;
if (argv[0] === 'render' && process.env.MESHWASM_OCLIF !== '1') {
  const { loadModule } = await import('../dist/renderers/load-module.js');
  const lean = await loadModule(new URL('../dist/cli/render-main.js', import.meta.url));
  rendered = await lean.renderWithoutOclif(argv.slice(1));
}
if (!rendered) {
  // Before oclif loads: with DEBUG set it logs argv, and --creds carries a password.
  if (process.argv.some((token) => token.startsWith('--creds'))) {
    const { hideSecretFlags } = await import('../dist/cli/lib/argv-secrets.js');
    hideSecretFlags(process.argv);
  }
  const { main } = await import('../dist/cli/lib/entry.js');
  await main(process.argv.slice(2), import.meta.url);
}
