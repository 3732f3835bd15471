import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Args, Command, Flags } from '@oclif/core';
import { exitCodeFor, OciError } from '../../oci/errors.js';
import { revealSecret } from '../lib/argv-secrets.js';
import { IMAGE_FORMATS } from '../../oci/image.js';
import { pushWasm } from '../../oci/push.js';
import { sha256Hex } from '../../oci/digest.js';
import { checkWasmBinary } from '../../oci/verify.js';
import { outputFlag, printJson } from '../lib/output-flag.js';
import { DEFAULT_REGISTRY_TIMEOUT_S } from '../../oci/registry.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  // Like `docker login --password-stdin`: one trailing newline is not part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export default class Push extends Command {
  static override summary = 'Package the filter as an OCI image and push it; prints the manifest digest.';

  static override description = `Uploads only the blobs the registry lacks, PUTs the manifest, then reads the image back and checks it against Istio's fetcher rules (layer count, media types, plugin.wasm present, \\0asm magic) and the digest before reporting success. Prints only the digest (sha256:…) on stdout, and records the push locally so "render --image REF" can pin it offline.

Credentials: --creds, or --username with --password-stdin, else REGISTRY_AUTH_FILE, podman's auth.json, ~/.docker/config.json (inline entries and credential helpers). Basic and Bearer-token registries are supported.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> quay.io/team/jump-filter:v1',
    'echo "$TOKEN" | <%= config.bin %> <%= command.id %> ghcr.io/team/jump-filter:v1 --username team --password-stdin',
    '<%= config.bin %> <%= command.id %> 127.0.0.1:5000/jump-filter:dev --insecure --format artifact',
  ];

  static override args = {
    ref: Args.string({
      required: true,
      description: 'Image reference: [registry/]repository[:tag][@sha256:…]',
    }),
  };

  static override flags = {
    wasm: Flags.file({ summary: 'Module to push (default: filter/build/plugin.wasm from meshwasm build).' }),
    format: Flags.option({
      options: IMAGE_FORMATS,
      default: 'compat' as const,
      summary: 'Image layout (see meshwasm build --help).',
    })(),
    insecure: Flags.boolean({ summary: 'Talk plain HTTP to the registry (and its token service).' }),
    creds: Flags.string({
      summary: 'USER:PASSWORD for the registry.',
      exclusive: ['username', 'password-stdin'],
    }),
    username: Flags.string({
      summary: 'User name; the password is read from stdin.',
      dependsOn: ['password-stdin'],
    }),
    'registry-timeout': Flags.integer({
      min: 1,
      max: 3600,
      default: DEFAULT_REGISTRY_TIMEOUT_S,
      summary: 'Seconds the whole push may take (every request and byte together, the read-back included).',
    }),
    'password-stdin': Flags.boolean({
      summary: 'Read the password from stdin (with --username).',
      dependsOn: ['username'],
    }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Push);
    const wasmPath = resolve(flags.wasm ?? join(this.config.root, 'filter', 'build', 'plugin.wasm'));
    if (!existsSync(wasmPath)) {
      this.error(`--wasm ${wasmPath} does not exist; run "meshwasm build" first or pass --wasm FILE`, {
        exit: 2,
      });
    }
    const tty = process.stderr.isTTY === true;
    const wasm = await readFile(wasmPath);
    try {
      checkWasmBinary(wasm, `--wasm ${wasmPath}`);
    } catch (err) {
      // The user's file, not the registry: a usage error.
      this.error((err as Error).message, { exit: 2 });
    }
    try {
      const password = flags['password-stdin'] ? await readStdin() : undefined;
      const result = await pushWasm(args.ref, wasm, {
        format: flags.format,
        insecure: flags.insecure,
        deadlineMs: flags['registry-timeout'] * 1000,
        credentials: { creds: revealSecret('creds', flags.creds), username: flags.username, password },
        onProgress: (message) => tty && process.stderr.write(`${message}\n`),
      });
      if (flags.output === 'json')
        printJson({
          image: { reference: args.ref, digest: result.digest, format: flags.format },
          wasm: { path: wasmPath, size: wasm.length, sha256: sha256Hex(wasm) },
        });
      else this.log(result.digest);
    } catch (err) {
      if (err instanceof OciError) this.error(err.message, { exit: exitCodeFor(err) });
      throw err;
    }
  }
}
