import {Command, Flags} from '@oclif/core'

import {UsageError} from '../../renderers/errors.js'
import {exitOnError} from '../lib/errors.js'
import {readInput} from '../lib/input.js'
import {givenSettings, settingFlags} from '../lib/setting-flags.js'

/**
 * `meshwasm render`: parse, resolve values, call renderers/render.ts, print. The renderers are
 * imported when the command runs, not when oclif loads the command, so --help stays cheap and only
 * the chosen target's modules load.
 */
export default class Render extends Command {
  static override summary = 'Render the filter as manifests for OSSM/Istio, a raw EnvoyFilter or Envoy Gateway.'

  static override description = `Prints YAML (or a JSON v1 List) ready for \`oc apply -f -\`: a WasmPlugin (--target ossm), an EnvoyFilter (--target envoyfilter) or an EnvoyExtensionPolicy plus the EnvoyPatchPolicy that adds the callout cluster (--target envoy-gateway).

Every setting can come from a flag, a MESHWASM_* environment variable or a values file (-f); flags win over env, env over the file. With no flags the output is the reference scenario: back-golang in jump-app-dev calls outbound|8444||back-python.jump-app-dev.svc.cluster.local GET /jump on every request.

The output is parsed back and validated (CRD schemas, CEL rules, DNS-1123 names, the filter configuration schema) before anything is printed. Bad input exits with code 2 and prints nothing on stdout.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> | oc apply -f -',
    '<%= config.bin %> <%= command.id %> --target envoyfilter --mesh-version istio-1.30 --url https://example.com/plugin.wasm --sha256 <sha256>',
    '<%= config.bin %> <%= command.id %> --target envoy-gateway --gateway eg --shape route --workload back-golang',
    '<%= config.bin %> <%= command.id %> --print-values > values.yaml && <%= config.bin %> <%= command.id %> -f values.yaml -o json',
  ]

  static override flags = {
    values: Flags.string({char: 'f', summary: 'Values file (YAML or JSON), or - for stdin; flags and env override it.', env: 'MESHWASM_VALUES', helpGroup: 'INPUT'}),
    'print-values': Flags.boolean({summary: 'Print the effective values as an editable values file instead of rendering.', helpGroup: 'INPUT'}),
    ...settingFlags(),
  }

  async run(): Promise<void> {
    const {flags, raw} = await this.parse(Render)
    try {
      const [{parse}, {resolveValues}] = await Promise.all([import('yaml'), import('../../renderers/values.js')])
      let file: {name: string; data: unknown} | undefined
      if (flags.values !== undefined) {
        const input = await readInput(flags.values, '--values')
        file = {name: input.name, data: parseValuesFile(parse, input.text, input.name)}
      }
      const resolved = resolveValues({flags: givenSettings(flags, raw), env: process.env, file})
      if (flags['print-values']) {
        const [{buildModel}, {formatValues}] = await Promise.all([import('../../renderers/model.js'), import('../../renderers/values-file.js')])
        buildModel(resolved)
        process.stdout.write(formatValues(resolved))
        return
      }
      const {formatJson, formatYaml, render} = await import('../../renderers/render.js')
      const pinWarnings: string[] = []
      const result = await render(resolved, resolved.given('image') ? {pinImage: (ref) => pinGivenImage(ref, pinWarnings)} : {})
      const {output, outputDir} = resolved.values
      if (outputDir === undefined) {
        process.stdout.write(output === 'json' ? formatJson(result.objects) : formatYaml(result.documents))
      } else {
        const {writeOutputDir} = await import('../../renderers/output-dir.js')
        for (const path of writeOutputDir(outputDir, result.documents, result.objects, output)) process.stderr.write(`wrote ${path}\n`)
      }
      // Notes come last, so a failure above is the only thing on stderr.
      for (const note of [...pinWarnings, ...result.notes]) process.stderr.write(`${note}\n`)
    } catch (error) {
      exitOnError(this, error)
    }
  }
}

/**
 * A user-given --image without a digest is pinned (oci/pin.ts): the registry's current digest for
 * the tag, else the one this machine recorded at its last push of it. If neither is available the
 * render fails (exit 1) rather than emit a tag the cluster may resolve differently.
 */
async function pinGivenImage(ref: string, warnings: string[]) {
  const {pinImageReference} = await import('../../oci/pin.js')
  return pinImageReference(ref, {onWarning: (message) => warnings.push(`warning: ${message}`)})
}

function parseValuesFile(parse: (text: string, options: object) => unknown, text: string, name: string): unknown {
  try {
    return parse(text, {strict: true, uniqueKeys: true, maxAliasCount: 0})
  } catch (error) {
    throw new UsageError(`--values: ${name} is not valid YAML (${(error as Error).message.split('\n')[0]}); fix the file or see --print-values`)
  }
}
