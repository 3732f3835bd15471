// Preloaded with `node --import` by render-imports.test.ts: records every module URL the ESM
// loader resolves into the file named by MESHWASM_IMPORT_LOG.
import {register} from 'node:module'

register('./record-imports-hooks.mjs', import.meta.url, {data: {log: process.env.MESHWASM_IMPORT_LOG}})
