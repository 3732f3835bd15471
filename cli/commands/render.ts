import { Command } from '@oclif/core';

import { exitOnError } from '../lib/errors.js';
import { givenSettings, renderFlags } from '../lib/oclif-flags.js';
import { registryOptions, runRender } from '../lib/render-run.js';

/**
 * `meshwasm render`: parse, then cli/lib/render-run.ts does the rest. bin/run.js sends most render
 * invocations to cli/render-main.ts instead, which parses the same flags without loading oclif
 * (render's wall time is mostly module loading); this class serves --help, the manifest, and every
 * argv the lean parser leaves to oclif.
 */
export default class Render extends Command {
  static override summary =
    'Render the filter as manifests for OSSM/Istio, a raw EnvoyFilter or Envoy Gateway.';

  static override description = `Prints YAML (or a JSON v1 List) ready for \`oc apply -f -\`: a WasmPlugin (--target ossm), an EnvoyFilter (--target envoyfilter) or an EnvoyExtensionPolicy plus the EnvoyPatchPolicy that adds the callout cluster (--target envoy-gateway).

Every setting can come from a flag, a MESHWASM_* environment variable or a values file (-f); flags win over env, env over the file. With no flags the output is the reference scenario: back-golang in jump-app-dev calls outbound|8444||back-python.jump-app-dev.svc.cluster.local GET /jump on every request.

The output is parsed back and validated (CRD schemas, CEL rules, DNS-1123 names, the filter configuration schema) before anything is printed. Bad input exits with code 2 and prints nothing on stdout.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> | oc apply -f -',
    '<%= config.bin %> <%= command.id %> --target envoyfilter --mesh-version istio-1.30 --url https://example.com/plugin.wasm --sha256 <sha256>',
    '<%= config.bin %> <%= command.id %> --target envoy-gateway --gateway eg --shape route --workload back-golang',
    '<%= config.bin %> <%= command.id %> --print-values > values.yaml && <%= config.bin %> <%= command.id %> -f values.yaml -o json',
  ];

  static override flags = renderFlags();

  async run(): Promise<void> {
    const { flags, raw } = await this.parse(Render);
    try {
      await runRender({
        values: flags.values,
        printValues: flags['print-values'],
        registry: registryOptions((name) => flags[name]),
        given: givenSettings(flags, raw),
      });
    } catch (error) {
      exitOnError(this, error);
    }
  }
}
