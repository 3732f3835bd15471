import {readFileSync} from 'node:fs'
import Handlebars from 'handlebars'

import {packagePath} from './package-root.js'
import {yamlHelper} from './yaml-encode.js'

/**
 * Loads renderers/<target>/<kind>.hbs from the package root at run time (the .hbs files ship in
 * the package next to the sources; dist/ holds only compiled JS) and compiles it with the `yaml`
 * helper as the only way to print a value.
 *
 * Before compiling, the template's syntax tree is checked: every `{{…}}` that prints must be
 * `{{yaml …}}`; block helpers (#if/#unless/#each/#with) may only decide structure. A template that
 * prints a raw value does not compile, so an unescaped `{{value}}` cannot slip in.
 */

type TemplateFn = (context: object) => string

const hbs = Handlebars.create()
hbs.registerHelper('yaml', yamlHelper)

const BLOCK_HELPERS = new Set(['if', 'unless', 'each', 'with'])
const cache = new Map<string, TemplateFn>()

interface AstNode {
  type: string
  path?: {original?: string}
  params?: unknown[]
  program?: {body: AstNode[]}
  inverse?: {body: AstNode[]}
  body?: AstNode[]
  loc?: {start: {line: number}}
}

export function assertOnlyEncodedOutput(source: string, name: string): void {
  const visit = (nodes: AstNode[]): void => {
    for (const node of nodes) {
      const line = node.loc?.start.line ?? 0
      switch (node.type) {
        case 'ContentStatement':
        case 'CommentStatement':
          break
        case 'MustacheStatement':
          if (node.path?.original !== 'yaml' || !node.params?.length) {
            throw new Error(`${name}:${line}: {{${node.path?.original ?? '?'}}} prints a value without the yaml encoder; use {{yaml …}}`)
          }
          break
        case 'BlockStatement':
          if (!BLOCK_HELPERS.has(node.path?.original ?? '')) {
            throw new Error(`${name}:${line}: block helper #${node.path?.original} is not allowed`)
          }
          visit(node.program?.body ?? [])
          visit(node.inverse?.body ?? [])
          break
        default:
          throw new Error(`${name}:${line}: ${node.type} is not allowed in meshwasm templates`)
      }
    }
  }
  visit((hbs.parse(source) as unknown as {body: AstNode[]}).body)
}

export function compileTemplate(source: string, name: string): TemplateFn {
  assertOnlyEncodedOutput(source, name)
  // noEscape: the yaml helper already encodes; HTML escaping would corrupt YAML.
  // strict: a typo in a template's field name throws instead of printing nothing.
  return hbs.compile(source, {noEscape: true, strict: true, knownHelpers: {yaml: true}, knownHelpersOnly: true})
}

/** Renders renderers/<id>.hbs (id like "istio/wasmplugin") with `context`. */
export function renderTemplate(id: string, context: object): string {
  let template = cache.get(id)
  if (!template) {
    const file = packagePath('renderers', `${id}.hbs`)
    template = compileTemplate(readFileSync(file, 'utf8'), `renderers/${id}.hbs`)
    cache.set(id, template)
  }
  return template(context)
}
