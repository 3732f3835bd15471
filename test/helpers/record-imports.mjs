// Preloaded with `node --import` by render-imports.test.ts: records every module the process
// loads into the file named by MESHWASM_IMPORT_LOG, as file URLs: what the ESM loader resolves
// (through the hooks), and at exit every module in the CommonJS cache, which also holds the ES
// modules loaded with require() (renderers/model-classes.ts) and CommonJS packages' inner files.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const log = process.env.MESHWASM_IMPORT_LOG;
register('./record-imports-hooks.mjs', import.meta.url, { data: { log } });
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => {
  if (log)
    appendFileSync(
      log,
      Object.keys(cache)
        .map((file) => `${pathToFileURL(file).href}\n`)
        .join(''),
    );
});
