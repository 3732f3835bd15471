import { Flags } from '@oclif/core';

/**
 * `-o/--output text|json`, the same on every command that prints something a script may want
 * (build, push, validate, version; render has its own -o yaml|json). JSON goes to stdout as one
 * object with these field names everywhere:
 *   wasm: { path, size, sha256, abi? }   the module (sha256: hex of its bytes)
 *   image: { reference?, digest, format, layout?, archive? }   an OCI image (digest: "sha256:…")
 *   version, node                       meshwasm's and Node's versions
 *   valid, files, resources, problems, notes   validate's report
 *   url, engine, requests, callouts, latencyMs   dev's start and summary lines (JSON lines)
 * Progress and warnings stay on stderr either way.
 */
export const OUTPUT_FORMATS = ['text', 'json'] as const;

export const outputFlag = () =>
  Flags.option({
    char: 'o',
    options: OUTPUT_FORMATS,
    default: 'text' as const,
    summary: 'Output format: text for people, json for scripts.',
  })();

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One compact JSON object per line, for a command that prints more than one over its life (dev). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
