import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import type {ErrorObject, ValidateFunction} from 'ajv'

import {packagePath} from './package-root.js'

/**
 * The filter configuration contract, filter/config.schema.json, read at run time from the
 * package root (it ships with the package). Its `default`s are the defaults of the matching
 * render settings and --help, and every configuration meshwasm emits or validates is checked
 * against it with ajv, so the filter's rules are written once, in the schema. ajv is loaded on
 * the first check only: reading defaults (flag definitions, --help) does not pay for it.
 */

export interface SchemaProperty {
  type?: string
  description?: string
  default?: unknown
  pattern?: string
  enum?: unknown[]
  minimum?: number
  maximum?: number
  maxLength?: number
  minLength?: number
}

export interface FilterSchema {
  properties: Record<string, SchemaProperty>
}

let schema: FilterSchema | undefined
let validator: ValidateFunction | undefined

export function filterSchema(): FilterSchema {
  schema ??= JSON.parse(readFileSync(packagePath('filter', 'config.schema.json'), 'utf8')) as FilterSchema
  return schema
}

export interface FilterConfigProblem {
  /** Top-level property the problem is about ("" for the object itself). */
  property: string
  message: string
}

function describe(error: ErrorObject): string {
  const where = error.instancePath.split('/').slice(2).join('/')
  const prefix = where ? `${where}: ` : ''
  switch (error.keyword) {
    case 'pattern':
      return `${prefix}must match ${error.params.pattern}`
    case 'enum':
      return `${prefix}must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`
    case 'additionalProperties':
      return `unknown key ${JSON.stringify(error.params.additionalProperty)}`
    default:
      return `${prefix}${error.message ?? error.keyword}`
  }
}

/** Problems with a filter configuration object, first one per property; [] when it is valid. */
type AjvClass = typeof import('ajv').default

function compile(): ValidateFunction {
  // ajv is CommonJS, so it can be required synchronously, when first needed.
  const Ajv = createRequire(import.meta.url)('ajv').default as AjvClass
  return new Ajv({allErrors: true, strict: false}).compile(filterSchema())
}

export function checkFilterConfig(config: unknown): FilterConfigProblem[] {
  validator ??= compile()
  if (validator(config)) return []
  const seen = new Set<string>()
  const problems: FilterConfigProblem[] = []
  for (const error of validator.errors ?? []) {
    // anyOf/if branches repeat the same complaint; keep the leaf one for each property.
    if (error.keyword === 'anyOf') continue
    const property = error.instancePath.split('/')[1] ?? (error.params.additionalProperty as string | undefined) ?? ''
    if (seen.has(property)) continue
    seen.add(property)
    problems.push({property, message: describe(error)})
  }
  return problems
}
