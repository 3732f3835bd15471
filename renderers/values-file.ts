import { envName, SETTINGS, type Setting } from './settings.js';
import type { ResolvedValues } from './values.js';
import { block, inline } from './yaml-encode.js';

/**
 * --print-values: the effective values as a values file a user can edit and pass back with -f.
 * Values the user gave and constant defaults are written as settings; defaults derived from other
 * values (calloutNamespace from namespace, …) are written as comments showing what they resolve to,
 * so changing what they derive from still takes effect. Reading the file back renders the same.
 */

function entry(key: string, value: unknown): string[] {
  if (value !== null && typeof value === 'object' && Object.keys(value).length > 0)
    return [`${key}:`, ...block(value, 2)];
  return [`${key}: ${inline(value)}`];
}

function comment(lines: string[]): string[] {
  return lines.map((line) => `# ${line}`);
}

function describe(setting: Setting): string {
  return `# ${setting.summary} (--${setting.flag}, ${envName(setting)})`;
}

export function formatValues(resolved: ResolvedValues): string {
  const out = [
    '# meshwasm render values: edit, then `meshwasm render -f values.yaml`.',
    '# Flags and MESHWASM_* variables override this file.',
  ];
  let group = '';
  for (const setting of SETTINGS) {
    if (setting.group !== group) {
      group = setting.group;
      out.push('', `## ${group}`);
    }
    out.push(describe(setting));
    const value = (resolved.values as unknown as Record<string, unknown>)[setting.key];
    const derived = !resolved.given(setting.key) && setting.derive !== undefined;
    if (value === undefined) out.push(`# ${setting.key}:`);
    else if (derived)
      out.push(
        ...comment(entry(setting.key, value)).map((line, i) =>
          i === 0 ? `${line}    # default: ${setting.defaultText}` : line,
        ),
      );
    else out.push(...entry(setting.key, value));
  }
  return `${out.join('\n')}\n`;
}
