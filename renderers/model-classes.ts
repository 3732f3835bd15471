import { loadModule } from './load-module.js';

/**
 * The @kubernetes-models classes that validate meshwasm's resource kinds against their CRD
 * schemas. They are the slowest imports of a render (an EnvoyExtensionPolicy pulls in ~200 ES
 * modules), so they load on demand, only for the kinds present, and with load-module.ts
 * (require() where it can: ~20 ms less for envoy-gateway). Each is resolved with
 * import.meta.resolve, so the package's "import" export is what loads either way.
 */

export interface ModelClass {
  new (data: Record<string, unknown>): { validate(): void };
}

async function loadClass(specifier: string, name: string): Promise<ModelClass> {
  return (await loadModule<Record<string, ModelClass>>(import.meta.resolve(specifier)))[name];
}

export const MODEL_CLASSES: Record<string, { apiVersion: string; load: () => Promise<ModelClass> }> = {
  WasmPlugin: {
    apiVersion: 'extensions.istio.io/v1alpha1',
    load: () => loadClass('@kubernetes-models/istio/extensions.istio.io/v1alpha1/WasmPlugin', 'WasmPlugin'),
  },
  EnvoyFilter: {
    apiVersion: 'networking.istio.io/v1alpha3',
    load: () => loadClass('@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter', 'EnvoyFilter'),
  },
  EnvoyExtensionPolicy: {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    load: () =>
      loadClass(
        '@kubernetes-models/envoy-gateway/gateway.envoyproxy.io/v1alpha1/EnvoyExtensionPolicy',
        'EnvoyExtensionPolicy',
      ),
  },
  EnvoyPatchPolicy: {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    load: () =>
      loadClass(
        '@kubernetes-models/envoy-gateway/gateway.envoyproxy.io/v1alpha1/EnvoyPatchPolicy',
        'EnvoyPatchPolicy',
      ),
  },
};
