import { createRequire } from 'node:module'
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv'
import type { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import { accepts, plainConfigSchema } from './accept.js'
import { typeboxCompile } from './typebox-runtime.js'

export interface Problem {
  /** Dotted path of the offending value, e.g. `admin.authorize` or `pluginPackages[1]`. */
  path: string
  message: string
}

/** A compiled TypeBox schema that reports its first problem in words. */
export interface Checker {
  problem (value: unknown): Problem | undefined
}

function dotted (instancePath: string): string {
  let out = ''
  for (const raw of instancePath.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    out += /^\d+$/.test(segment) ? `[${segment}]` : (out === '' ? segment : `.${segment}`)
  }
  return out
}

function join (path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

function schemaAt (root: TSchema, schemaPath: string): Record<string, unknown> | undefined {
  let node: unknown = root
  for (const segment of schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[segment.replaceAll('~1', '/').replaceAll('~0', '~')]
  }
  return node !== null && typeof node === 'object' ? node as Record<string, unknown> : undefined
}

/** Levenshtein distance: the number of one-character edits that turn `a` into `b`. */
function distance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (previous[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1)
      )
    }
    previous = row
  }
  return previous[b.length] as number
}

/**
 * The candidate `word` was most likely meant as, if one is close enough to be a typo:
 * case, `-` and `_` are ignored (`beforeRequest` → `before_request`), then at most two
 * edits, or a third of the word for long ones (`pluginFolder` → `pluginsFolder`).
 */
export function closest (word: string, candidates: Iterable<string>): string | undefined {
  const plain = (value: string) => value.toLowerCase().replaceAll(/[-_]/g, '')
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1
  for (const candidate of candidates) {
    const d = distance(plain(word), plain(candidate))
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/** "is not a known key", with the key that was probably meant, else the keys there are. */
export function unknownKey (key: string, known: readonly string[]): string {
  const guess = closest(key, known)
  if (guess !== undefined) return `is not a known key (did you mean ${guess}?)`
  return known.length === 0 ? 'is not a known key (no keys are allowed here)' : `is not a known key (expected one of ${known.join(', ')})`
}

function keysOf (schema: Record<string, unknown> | undefined): string[] {
  const properties = schema?.properties
  return properties !== null && typeof properties === 'object' ? Object.keys(properties) : []
}

/**
 * Compiles `schema`. Schemas may carry a `description` ("a semver range", ...) that
 * replaces TypeBox's generic message ("must match a schema in anyOf") for their value.
 */
export function checker (schema: TSchema): Checker {
  // Compiled on the first value `accepts` is not sure of: most checkers only ever see valid values.
  let compiled: ReturnType<typeof Compile> | undefined
  return {
    problem (value) {
      if (accepts(schema, value)) return undefined
      const validator = compiled ??= typeboxCompile().Compile(schema)
      if (validator.Check(value)) return undefined
      const errors = validator.Errors(value)
      const first = errors[0]
      if (first === undefined) return { path: '', message: 'is invalid' }
      if (first.keyword === 'required') {
        const property = (first.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? ''
        return { path: dotted(`${first.instancePath}/${property.replaceAll('~', '~0').replaceAll('/', '~1')}`), message: 'is required' }
      }
      const here = errors.filter((error) => error.instancePath === first.instancePath)
      const unknown = here.find((error) => error.message === 'schema is false')
      if (unknown !== undefined) {
        // The error points at the object's `additionalProperties: false`; its `properties` are the known keys.
        const objectSchema = schemaAt(schema, unknown.schemaPath.replace(/\/additionalProperties$/, ''))
        const key = first.instancePath.split('/').at(-1)?.replaceAll('~1', '/').replaceAll('~0', '~') ?? ''
        return { path: dotted(first.instancePath), message: unknownKey(key, keysOf(objectSchema)) }
      }
      const chosen = here.find((error) => error.keyword === 'anyOf') ?? first
      const description = schemaAt(schema, chosen.schemaPath)?.description
      const message = typeof description === 'string' ? `must be ${description}` : chosen.message
      return { path: dotted(first.instancePath), message }
    }
  }
}

/** A plugin's `configSchema`, compiled: `check` applies the schema's defaults and reports every problem. */
export interface ConfigValidator {
  check (value: unknown): Problem[]
}

let shared: Ajv | undefined

/**
 * The JSON Schema validator for `configSchema`, configured like Fastify's own route
 * validation (ajv with defaults and formats), so any JSON Schema works: TypeBox 1.x
 * (`typebox`), TypeBox 0.34 (`@sinclair/typebox`) or a plain object. Unlike Fastify it
 * collects every error and never coerces types: a config is code, not a query string.
 */
function configAjv (): Ajv {
  if (shared !== undefined) return shared
  // Loaded on first use (about 70 files): plain config schemas are checked by `accepts`.
  const require = createRequire(import.meta.url)
  const { Ajv: AjvClass } = require('ajv') as typeof import('ajv')
  // ajv-formats is CommonJS, its plugin the module itself (and its `default`).
  const addFormats = require('ajv-formats') as (ajv: Ajv) => Ajv
  // One instance: creating one costs ~10 ms, compiling a schema well under 1 ms.
  shared = addFormats(new AjvClass({
    useDefaults: true,
    allErrors: true,
    verbose: true,
    coerceTypes: false,
    strictTypes: false,
    strictTuples: false,
    addUsedSchema: false
  }))
  return shared
}

function describeError (error: ErrorObject): Problem {
  const path = dotted(error.instancePath)
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'required':
      return { path: join(path, String(params.missingProperty)), message: 'is required' }
    case 'additionalProperties':
      return {
        path: join(path, String(params.additionalProperty)),
        message: unknownKey(String(params.additionalProperty), keysOf(error.parentSchema))
      }
    case 'enum':
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(', ')}` }
    case 'const':
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}` }
    default: {
      const description = error.parentSchema?.description
      const generic = error.keyword === 'anyOf' || error.keyword === 'oneOf'
      return { path, message: generic && typeof description === 'string' ? `must be ${description}` : error.message ?? 'is invalid' }
    }
  }
}

function compileConfig (schema: object): ValidateFunction {
  const ajv = configAjv()
  const validate: ValidateFunction = ajv.compile(schema)
  // The compiled function stands alone: drop ajv's cache entry, so that reloaded plugins'
  // schemas are not kept forever and two plugins may use the same `$id`.
  ajv.removeSchema(schema)
  return validate
}

/**
 * Compiles a config schema; throws (with ajv's message) when it is not a valid JSON Schema.
 * A plain one (`plainConfigSchema`: ajv certainly compiles it) is compiled only if `accepts`,
 * which applies the same defaults, is not sure of a value.
 */
export function configValidator (schema: object): ConfigValidator {
  const plain = plainConfigSchema(schema)
  let compiled = plain ? undefined : compileConfig(schema)
  return {
    check (value) {
      if (plain && accepts(schema, value, true)) return []
      const validate = compiled ??= compileConfig(schema)
      if (validate(value)) return []
      const errors = validate.errors ?? []
      // For anyOf/oneOf, ajv also reports why each branch failed; the one line for the value says enough.
      const branches = errors.filter((error) => error.keyword === 'anyOf' || error.keyword === 'oneOf')
        .map((error) => `${error.schemaPath}/`)
      const problems = errors.filter((error) => !branches.some((prefix) => error.schemaPath.startsWith(prefix))).map(describeError)
      const seen = new Set<string>()
      return problems.filter((problem) => {
        const key = `${problem.path}\0${problem.message}`
        return seen.has(key) ? false : (seen.add(key), true)
      })
    }
  }
}
