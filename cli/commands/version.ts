import { Command } from '@oclif/core';

import { describeModule, type ModuleInfo } from '../lib/module-info.js';
import { packagePath } from '../../renderers/package-root.js';
import { outputFlag, printJson } from '../lib/output-flag.js';

interface VersionOutput {
  version: string;
  /** The filter meshwasm ships (filter/build/plugin.wasm), or null when it has not been built. */
  wasm: ModuleInfo | null;
  node: string;
}

/** `meshwasm version` (also `meshwasm --version`): what a bug report needs. */
export default class Version extends Command {
  static override summary =
    "Print meshwasm's version, the filter's sha256 and proxy-wasm ABI, and Node's version.";

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> --version -o json'];

  static override flags = { output: outputFlag() };

  async run(): Promise<VersionOutput> {
    const { flags } = await this.parse(Version);
    const path = packagePath('filter', 'build', 'plugin.wasm');
    const output: VersionOutput = {
      version: this.config.version,
      wasm: await describeModule(path),
      node: process.version,
    };
    if (flags.output === 'json') {
      printJson(output);
      return output;
    }
    this.log(`meshwasm ${output.version}`);
    if (output.wasm)
      this.log(
        `filter   ${output.wasm.path}\n  sha256 ${output.wasm.sha256}\n  size   ${output.wasm.size}\n  abi    ${output.wasm.abi ?? 'none declared'}`,
      );
    else this.log(`filter   not built (${path}); run meshwasm build`);
    this.log(`node     ${output.node}`);
    return output;
  }
}
