// The render model from flags alone (no env, no values file), for tests of renderers/model.ts.
import { UsageError } from '../../renderers/errors.js';
import { buildModel } from '../../renderers/model.js';
import { resolveValues } from '../../renderers/values.js';

export const model = (flags: Record<string, unknown>) => buildModel(resolveValues({ flags }));

/** The UsageError message these flags must produce; throws when they build a model. */
export function problem(flags: Record<string, unknown>): string {
  try {
    model(flags);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`expected a UsageError for ${JSON.stringify(flags)}`);
}
