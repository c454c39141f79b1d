import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'

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

function schemaAt (root: TSchema, schemaPath: string): Record<string, unknown> | undefined {
  let node: unknown = root
  for (const segment of schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[segment.replaceAll('~1', '/').replaceAll('~0', '~')]
  }
  return node !== null && typeof node === 'object' ? node as Record<string, unknown> : undefined
}

/**
 * Compiles `schema`. Schemas may carry a `description` ("a semver range", ...) that
 * replaces TypeBox's generic message ("must match a schema in anyOf") for their value.
 */
export function checker (schema: TSchema): Checker {
  const validator = Compile(schema)
  return {
    problem (value) {
      if (validator.Check(value)) return undefined
      const errors = validator.Errors(value)
      const first = errors[0]
      if (first === undefined) return { path: '', message: 'is invalid' }
      if (first.keyword === 'required') {
        const property = (first.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? ''
        return { path: dotted(`${first.instancePath}/${property.replaceAll('~', '~0').replaceAll('/', '~1')}`), message: 'is required' }
      }
      const here = errors.filter((error) => error.instancePath === first.instancePath)
      if (here.some((error) => error.message === 'schema is false')) {
        return { path: dotted(first.instancePath), message: 'is not a known key' }
      }
      const chosen = here.find((error) => error.keyword === 'anyOf') ?? first
      const description = schemaAt(schema, chosen.schemaPath)?.description
      const message = typeof description === 'string' ? `must be ${description}` : chosen.message
      return { path: dotted(first.instancePath), message }
    }
  }
}
