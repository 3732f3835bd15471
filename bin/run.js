#!/usr/bin/env node
// `meshwasm render` runs without oclif when its argv allows (cli/render-main.ts): loading oclif
// would cost as much as the render itself. Everything else, and any render argv the lean parser
// leaves to oclif, goes through oclif. MESHWASM_OCLIF=1 forces oclif (tests compare both paths).
// The lean entry is loaded the way renderers/load-module.ts loads render's own modules.
const argv = process.argv.slice(2);
let rendered = false;
if (argv[0] === 'render' && process.env.MESHWASM_OCLIF !== '1') {
  const { loadModule } = await import('../dist/renderers/load-module.js');
  const lean = await loadModule(new URL('../dist/cli/render-main.js', import.meta.url));
  rendered = await lean.renderWithoutOclif(argv.slice(1));
}
if (!rendered) {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
