#!/usr/bin/env node
import {createRequire} from 'node:module'

// `meshwasm render` runs without oclif when its argv allows (cli/render-main.ts): loading oclif
// would cost as much as the render itself. Everything else, and any render argv the lean parser
// leaves to oclif, goes through oclif. MESHWASM_OCLIF=1 forces oclif (tests compare both paths).
// The lean entry is loaded with require() where Node can, as renderers/load-module.ts explains.
const LEAN_ENTRY = '../dist/cli/render-main.js'

async function leanEntry() {
  if (process.features.require_module) {
    try {
      return createRequire(import.meta.url)(LEAN_ENTRY)
    } catch (error) {
      if (error.code !== 'ERR_REQUIRE_ASYNC_MODULE') throw error
    }
  }
  return import(LEAN_ENTRY)
}

const argv = process.argv.slice(2)
const rendered = argv[0] === 'render' && process.env.MESHWASM_OCLIF !== '1' && (await (await leanEntry()).renderWithoutOclif(argv.slice(1)))
if (!rendered) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
