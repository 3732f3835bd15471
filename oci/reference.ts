import { OciError } from './errors.js';

/**
 * Image references in the grammar registries and container tools share
 * (`[host[:port]/]path[:tag][@algorithm:hex]`), normalised the way docker/podman do it so that
 * `meshwasm push foo` and `skopeo copy docker://foo` mean the same image.
 */
export interface ImageReference {
  /** Registry host as the user names it, with port; Docker Hub is `docker.io`. */
  registry: string;
  /** Repository path inside the registry, e.g. `team/jump-filter` (Docker Hub: `library/x`). */
  repository: string;
  /** Always set unless the reference is digest-only; defaults to `latest`. */
  tag?: string;
  digest?: string;
}

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';
const MAX_NAME_LENGTH = 255;

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]{1,5})?$`,
);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST_ALGORITHMS: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

function invalid(input: string, why: string): OciError {
  return new OciError('EREF', `invalid image reference "${input}": ${why}`);
}

/** Parse and normalise a reference; throws OciError('EREF') with the reason and the fix. */
export function parseReference(input: string): ImageReference {
  const raw = input.trim();
  if (raw === '')
    throw new OciError('EREF', 'invalid image reference: it is empty (expected e.g. quay.io/team/filter:v1)');
  if (/\s/.test(raw)) throw invalid(input, 'it contains whitespace');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && !/^(?:oci|docker):\/\//.test(raw)) {
    throw invalid(
      input,
      'use registry/repository[:tag], not a URL (drop the scheme; only oci:// is accepted)',
    );
  }

  let rest = raw.replace(/^(?:oci|docker):\/\//, '');
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const colon = digest.indexOf(':');
    const algorithm = colon < 0 ? '' : digest.slice(0, colon);
    const pattern = DIGEST_ALGORITHMS[algorithm];
    if (!pattern || !pattern.test(digest.slice(colon + 1))) {
      throw invalid(input, `bad digest "${digest}" (expected sha256: followed by 64 lowercase hex digits)`);
    }
  }

  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) {
      throw invalid(
        input,
        `bad tag "${tag}" (up to 128 letters, digits, "_", "." or "-", not starting with "." or "-")`,
      );
    }
  }

  if (rest === '') throw invalid(input, 'the repository name is missing');
  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // Same rule docker uses: the first component is a host if it looks like one.
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      registry = first;
      repository = rest.slice(slash + 1);
      if (!DOMAIN.test(registry)) throw invalid(input, `bad registry host "${registry}"`);
    }
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;

  if (repository === '') throw invalid(input, 'the repository name is missing');
  if (repository.toLowerCase() !== repository) {
    throw invalid(input, `repository "${repository}" must be lowercase`);
  }
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(
        input,
        `bad repository path component "${component}" (lowercase letters and digits, separated by ".", "_", "__" or "-")`,
      );
    }
  }
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) {
    throw invalid(input, `the name is longer than ${MAX_NAME_LENGTH} characters`);
  }

  if (tag === undefined && digest === undefined) tag = 'latest';
  return {
    registry,
    repository,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

/** `registry/repository[:tag][@digest]`, the form skopeo, Istio and EG all parse. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Host the distribution API lives on (Docker Hub's API is not on docker.io itself). */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}
