/**
 * Secrets given as flags (`push --creds USER:PASSWORD`) are taken out of process.argv before
 * oclif starts: with DEBUG=* oclif logs process.argv, the command's argv and its parsed flags, and
 * a password would be printed each time. bin/run.js calls hideSecretFlags() first; oclif then sees
 * a placeholder, and the command turns it back into the value with revealSecret(). Anything that
 * runs without bin/run.js (in-process tests) gets the real value and revealSecret() passes it on.
 */

export const SECRET_FLAGS = ['creds'] as const;
export const PLACEHOLDER = '<secret given on the command line>';

// One module instance serves bin/run.js and the command it loads (both import dist/).
const hidden = new Map<string, string>();

/** Replaces the values of secret flags in argv (in place) with the placeholder. */
export function hideSecretFlags(argv: string[]): void {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') return;
    for (const name of SECRET_FLAGS) {
      const long = `--${name}`;
      if (token === long && i + 1 < argv.length) {
        hidden.set(name, argv[i + 1]);
        argv[++i] = PLACEHOLDER;
      } else if (token.startsWith(`${long}=`)) {
        hidden.set(name, token.slice(long.length + 1));
        argv[i] = `${long}=${PLACEHOLDER}`;
      }
    }
  }
}

/** The real value of a secret flag as the command received it. */
export function revealSecret(
  name: (typeof SECRET_FLAGS)[number],
  value: string | undefined,
): string | undefined {
  return value === PLACEHOLDER && hidden.has(name) ? hidden.get(name) : value;
}
