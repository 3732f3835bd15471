import { DEFAULT_IMAGE } from './settings.js';
import type { ResolvedValues } from './values.js';

/**
 * Where the proxy gets the .wasm from, and the checksum that goes with it. The meaning of sha256
 * differs per source (mesh-targets.md §a): for an OCI image it is the image *manifest digest*; for
 * an http(s) URL or a file it is the sha256 of the .wasm bytes.
 */
export type ModuleSource =
  | {
      kind: 'oci';
      /** oci://registry/repo[:tag][@sha256:…] */ url: string;
      /** registry/repo[:tag][@sha256:…] */ reference: string;
      sha256?: string;
      pinned: boolean;
      isDefault: boolean;
    }
  | {
      kind: 'http';
      url: string;
      host: string;
      port: number;
      tls: boolean;
      sha256?: string;
      /** CA bundle (path in the proxy) the module host's certificate is checked against, for https. */
      ca?: string;
    }
  | { kind: 'file'; path: string; sha256?: string };

/**
 * The system CA bundle in Istio's proxy images (Debian/Ubuntu layout, as Envoy's docs for remote
 * data sources assume); --module-ca replaces it for a private CA.
 */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

const OCI_REFERENCE =
  /^oci:\/\/([a-z0-9.-]+(?::\d+)?\/[a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@sha256:([a-f0-9]{64}))?$/;

export function moduleSource(resolved: ResolvedValues): ModuleSource {
  const { image, url, file, sha256, moduleCa } = resolved.values;
  const given = (['image', 'url', 'file'] as const).filter((key) => resolved.values[key] !== undefined);
  if (given.length > 1) {
    throw resolved.problem(
      given[1],
      `--${given[0]} and --${given[1]} both name the module; give exactly one of --image, --url, --file`,
    );
  }

  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw resolved.problem('url', `${JSON.stringify(url)} is not a URL; use https://host/path/plugin.wasm`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw resolved.problem(
        'url',
        `${parsed.protocol} URLs cannot serve a module; use https://… (or --image oci://…, --file /path)`,
      );
    }
    if (parsed.username || parsed.password)
      throw resolved.problem(
        'url',
        'credentials in the URL would be printed into the manifest; remove user:password@',
      );
    const tls = parsed.protocol === 'https:';
    if (moduleCa !== undefined && resolved.values.target !== 'envoyfilter') {
      // istio-agent (WasmPlugin) and Envoy Gateway fetch the module themselves, with their own trust.
      throw resolved.problem('moduleCa', 'only applies to --target envoyfilter; drop --module-ca');
    }
    if (moduleCa !== undefined && (!tls || !/^\/[^\s]*[^/]$/.test(moduleCa))) {
      throw resolved.problem(
        'moduleCa',
        tls
          ? `${JSON.stringify(moduleCa)} is not an absolute file path; give the CA bundle's path inside the proxy container, e.g. /etc/meshwasm/ca.pem`
          : 'only applies to an https:// --url; drop --module-ca or use https://',
      );
    }
    return {
      kind: 'http',
      url: parsed.href,
      host: parsed.hostname,
      port: parsed.port ? Number(parsed.port) : tls ? 443 : 80,
      tls,
      sha256,
      ...(tls ? { ca: moduleCa ?? SYSTEM_CA_BUNDLE } : {}),
    };
  }
  if (moduleCa !== undefined)
    throw resolved.problem('moduleCa', 'only applies to an https:// --url module; drop --module-ca');

  if (file !== undefined) {
    if (!/^\/[^\s]*$/.test(file) || file.endsWith('/')) {
      throw resolved.problem(
        'file',
        `${JSON.stringify(file)} is not an absolute file path; use the module's path inside the proxy container, e.g. /var/local/wasm/plugin.wasm`,
      );
    }
    return { kind: 'file', path: file, sha256 };
  }

  const ref = image ?? DEFAULT_IMAGE;
  const match = OCI_REFERENCE.exec(ref);
  if (!match) {
    const hint = /^https?:\/\//.test(ref)
      ? '; for a .wasm over HTTP use --url'
      : /^oci:\/\//.test(ref)
        ? ''
        : '; prefix it with oci://';
    throw resolved.problem(
      'image',
      `${JSON.stringify(ref)} is not an OCI image reference; use oci://registry/repository:tag or oci://registry/repository@sha256:<digest>${hint}`,
    );
  }
  const digest = match[3];
  if (digest && sha256 && digest !== sha256) {
    throw resolved.problem(
      'sha256',
      `does not match the digest in --image (${digest.slice(0, 12)}…); drop --sha256 or make them equal`,
    );
  }
  return {
    kind: 'oci',
    url: ref,
    reference: ref.slice('oci://'.length),
    sha256: sha256 ?? digest,
    // Without a digest the cluster pulls whatever the tag points at when it fetches; render warns.
    pinned: Boolean(sha256 ?? digest),
    isDefault: image === undefined,
  };
}
