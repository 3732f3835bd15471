import { Flags } from '@oclif/core';

/**
 * The kubeconfig flags every cluster command takes (kubectl's names). KUBECONFIG, ~/.kube/config
 * and the in-cluster service account are cluster/connection.ts's to find when these are absent.
 */
export const CLUSTER_FLAGS = {
  kubeconfig: Flags.string({
    summary:
      'Kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then the in-cluster service account).',
    helpGroup: 'CLUSTER',
  }),
  context: Flags.string({
    summary: "Kubeconfig context (default: the kubeconfig's current context).",
    helpGroup: 'CLUSTER',
  }),
};

/** --instance for status and delete; apply defines its own (with a default). */
export const INSTANCE_FLAG = Flags.string({
  summary:
    'Only the objects of this instance (the meshwasm.io/instance label apply set); default: all of them.',
  helpGroup: 'CLUSTER',
});

export const NAMESPACE_FLAG = Flags.string({
  char: 'n',
  summary: 'Only this namespace (default: all namespaces).',
  helpGroup: 'CLUSTER',
});
