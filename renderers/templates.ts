import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Handlebars from 'handlebars';

import { packagePath } from './package-root.js';
import { artifactKey, builtArtifactsDir, loadPrecompiled } from './precompiled.js';
import { yamlHelper } from './yaml-encode.js';

/**
 * Loads renderers/<target>/<kind>.hbs from the package root at run time (the .hbs files ship in
 * the package next to the sources; dist/ holds only compiled JS) and turns it into a template with
 * the `yaml` helper as the only way to print a value.
 *
 * Before compiling, the template's syntax tree is checked: every `{{…}}` that prints must be
 * `{{yaml …}}`; block helpers (#if/#unless/#each/#with) may only decide structure. A template that
 * prints a raw value does not compile, so an unescaped `{{value}}` cannot slip in.
 *
 * The build precompiles every template (after the same check) into dist/precompiled/, and a
 * render then needs only the small handlebars runtime; a template whose source, compile options
 * or handlebars version differ from what was precompiled is compiled here instead
 * (renderers/precompiled.ts).
 */

type TemplateFn = (context: object) => string;
type Env = typeof Handlebars;

const require = createRequire(import.meta.url);

/**
 * noEscape: the yaml helper already encodes; HTML escaping would corrupt YAML.
 * strict: a typo in a template's field name throws instead of printing nothing.
 * A fresh object each time: handlebars adds its own defaults to the options it is given.
 */
const compileOptions = () => ({
  noEscape: true,
  strict: true,
  knownHelpers: { yaml: true },
  knownHelpersOnly: true,
});
export const TEMPLATES_FILE = 'templates.cjs';

function withHelper(env: Env): Env {
  env.registerHelper('yaml', yamlHelper);
  return env;
}

// The runtime runs precompiled templates; the compiler (4x the code) loads only when needed.
const runtime = withHelper((require('handlebars/runtime') as Env).create());
let compiler: Env | undefined;
const fullHandlebars = (): Env => (compiler ??= withHelper((require('handlebars') as Env).create()));

const BLOCK_HELPERS = new Set(['if', 'unless', 'each', 'with']);
const cache = new Map<string, TemplateFn>();

interface AstNode {
  type: string;
  path?: { original?: string };
  params?: unknown[];
  program?: { body: AstNode[] };
  inverse?: { body: AstNode[] };
  body?: AstNode[];
  loc?: { start: { line: number } };
}

export function assertOnlyEncodedOutput(source: string, name: string): void {
  const visit = (nodes: AstNode[]): void => {
    for (const node of nodes) {
      const line = node.loc?.start.line ?? 0;
      switch (node.type) {
        case 'ContentStatement':
        case 'CommentStatement':
          break;
        case 'MustacheStatement':
          if (node.path?.original !== 'yaml' || !node.params?.length) {
            throw new Error(
              `${name}:${line}: {{${node.path?.original ?? '?'}}} prints a value without the yaml encoder; use {{yaml …}}`,
            );
          }
          break;
        case 'BlockStatement':
          if (!BLOCK_HELPERS.has(node.path?.original ?? '')) {
            throw new Error(`${name}:${line}: block helper #${node.path?.original} is not allowed`);
          }
          visit(node.program?.body ?? []);
          visit(node.inverse?.body ?? []);
          break;
        default:
          throw new Error(`${name}:${line}: ${node.type} is not allowed in meshwasm templates`);
      }
    }
  };
  visit((fullHandlebars().parse(source) as unknown as { body: AstNode[] }).body);
}

export function compileTemplate(source: string, name: string): TemplateFn {
  assertOnlyEncodedOutput(source, name);
  return fullHandlebars().compile(source, compileOptions());
}

/** The precompiled template spec (JavaScript source) for a checked template; what the build writes. */
export function precompileTemplate(source: string, name: string): string {
  assertOnlyEncodedOutput(source, name);
  return fullHandlebars().precompile(source, compileOptions()) as string;
}

/** The key of what a precompiled template must have been made from to stand in for compileTemplate(source). */
export function templateKey(source: string): string {
  return artifactKey(source, JSON.stringify(compileOptions()), runtime.VERSION);
}

export interface PrecompiledTemplate {
  key: string;
  spec: Parameters<Env['template']>[0];
}

/** The precompiled template `id` in `dir`, if it was made from exactly this source. */
export function precompiledTemplate(
  id: string,
  source: string,
  dir = builtArtifactsDir(),
): TemplateFn | undefined {
  const entry = loadPrecompiled<Record<string, PrecompiledTemplate>>(TEMPLATES_FILE, dir)?.[id];
  return entry?.key === templateKey(source) ? runtime.template(entry.spec) : undefined;
}

/** Renders renderers/<id>.hbs (id like "istio/wasmplugin") with `context`. */
export function renderTemplate(id: string, context: object): string {
  let template = cache.get(id);
  if (!template) {
    const source = readFileSync(packagePath('renderers', `${id}.hbs`), 'utf8');
    template = precompiledTemplate(id, source) ?? compileTemplate(source, `renderers/${id}.hbs`);
    cache.set(id, template);
  }
  return template(context);
}
