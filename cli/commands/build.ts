import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, Flags } from '@oclif/core';
import { sha256Hex } from '../../oci/digest.js';
import { exitCodeFor, OciError } from '../../oci/errors.js';
import { buildImage, IMAGE_FORMATS } from '../../oci/image.js';
import { checkTag, exportImage } from '../../oci/layout.js';
import { outputFlag, printJson } from '../lib/output-flag.js';

interface BuildOutput {
  wasm: { path: string; size: number; sha256: string };
  image?: { digest: string; format: string; layout?: string; archive?: string };
}

/** filter/build.mjs owns compilation (asc, the Envoy import check, the size budget). */
type BuildFilter = (options: { outDir?: string; quiet?: boolean }) => Promise<{ wasmPath: string }>;

export default class Build extends Command {
  static override summary = 'Compile the filter (release) and optionally package it as an OCI image on disk.';

  static override description = `Prints the .wasm path, its size and its sha256 (the value an EnvoyFilter http source needs).
With --oci-layout and/or --oci-archive it also packages the module the way Istio's and Envoy Gateway's fetchers accept it, reads the result back, and checks it against their rules. The same module always gives the same image digest.

Formats:
  compat    (default) OCI image, one application/vnd.oci.image.layer.v1.tar+gzip layer holding plugin.wasm
  artifact  2 layers: application/vnd.module.wasm.content.layer.v1+wasm (raw module) + runtime config`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --out dist/wasm --oci-layout dist/oci --oci-archive dist/filter.oci.tar',
    'skopeo copy oci:dist/oci:latest docker://quay.io/team/filter:v1',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    out: Flags.directory({ summary: 'Directory for the compiled plugin.wasm (default: filter/build).' }),
    'oci-layout': Flags.directory({
      summary:
        'Also write an OCI image layout directory here; an existing layout is added to (its other images and files stay).',
    }),
    'oci-archive': Flags.file({
      summary: 'Also write the OCI layout as one tar file (skopeo: oci-archive:FILE).',
    }),
    format: Flags.option({
      options: IMAGE_FORMATS,
      default: 'compat' as const,
      summary: 'Image layout to produce.',
    })(),
    tag: Flags.string({
      default: 'latest',
      summary: 'Name of the image inside the layout (org.opencontainers.image.ref.name); a distribution tag.',
    }),
    output: outputFlag(),
    force: Flags.boolean({ summary: 'Overwrite an existing --oci-archive file.' }),
  };

  async run(): Promise<BuildOutput> {
    const { flags } = await this.parse(Build);
    const outDir = resolve(flags.out ?? join(this.config.root, 'filter', 'build'));
    const tty = process.stderr.isTTY === true;
    const progress = (text: string) => tty && process.stderr.write(`\r\x1b[K${text}`);

    try {
      // Checked before the (slow) compile: a bad tag is a usage error.
      checkTag(flags.tag);
      progress('compiling filter (release)…');
      const { buildFilter } = (await import(
        pathToFileURL(join(this.config.root, 'filter', 'build.mjs')).href
      )) as { buildFilter: BuildFilter };
      const { wasmPath } = await buildFilter({ outDir, quiet: true });
      const wasm = await readFile(wasmPath);
      const output: BuildOutput = { wasm: { path: wasmPath, size: wasm.length, sha256: sha256Hex(wasm) } };

      if (flags['oci-layout'] || flags['oci-archive']) {
        progress('packaging OCI image…');
        const image = buildImage(wasm, { format: flags.format });
        const written = await exportImage(
          image,
          { layout: flags['oci-layout'], archive: flags['oci-archive'] },
          { refName: flags.tag, force: flags.force },
        );
        output.image = { digest: image.digest, format: image.format, ...written };
      }
      progress('');

      if (flags.output === 'json') {
        printJson(output);
        return output;
      }
      this.log(`wasm    ${output.wasm.path}`);
      this.log(`size    ${output.wasm.size}`);
      this.log(`sha256  ${output.wasm.sha256}`);
      if (output.image) {
        this.log(`image   ${output.image.digest} (${output.image.format})`);
        if (output.image.layout)
          this.log(`layout  ${output.image.layout}  (oci:${output.image.layout}:${flags.tag})`);
        if (output.image.archive)
          this.log(`archive ${output.image.archive}  (oci-archive:${output.image.archive}:${flags.tag})`);
      }
      return output;
    } catch (err) {
      progress('');
      if (err instanceof OciError) this.error(err.message, { exit: exitCodeFor(err) });
      // filter/build.mjs reports compile errors, Envoy-import and size-budget problems as plain Errors.
      if (err instanceof Error && !('oclif' in err)) this.error(err.message, { exit: 1 });
      throw err;
    }
  }
}
