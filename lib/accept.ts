/**
 * A quick "this value is certainly valid" for the plain JSON Schemas the kit checks most:
 * manifests, extension points, config schemas such as `Type.Object({ greeting:
 * Type.String({ default }) })`. Compiling a schema costs about 0.7 ms with ajv and loads
 * ~300 more modules with TypeBox's compiler, and most schemas here check one value per boot,
 * which is valid. So checkers try `accepts` first and compile only when it answers false,
 * which means "not sure": the compiled validator then gives the verdict and the messages.
 *
 * Every rule below holds under both TypeBox's compiler and ajv (strict numbers, code-point
 * string lengths): where the two differ, or for any keyword not listed, it answers false.
 */

type Schema = Record<string, unknown>

const METADATA = new Set(['description', 'title', '$comment', 'examples'])
const KEYWORDS = new Set([
  ...METADATA, 'type', 'properties', 'required', 'additionalProperties', 'patternProperties', 'items', 'anyOf', 'const', 'enum',
  'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minItems', 'maxItems',
  'parameters', 'returnType', 'default'
])

const isPlainObject = (value: unknown): value is Schema =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype
const isPrimitive = (value: unknown) =>
  typeof value === 'string' || typeof value === 'boolean' || value === null || (typeof value === 'number' && Number.isFinite(value))
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0

/** Compiled patterns; a pattern either flag set rejects is not ours to judge. */
const patterns = new Map<string, [RegExp, RegExp] | null>()
function patternOf (source: unknown): [RegExp, RegExp] | null {
  if (typeof source !== 'string') return null
  let compiled = patterns.get(source)
  if (compiled === undefined) {
    try {
      compiled = [new RegExp(source), new RegExp(source, 'u')]
    } catch {
      compiled = null
    }
    patterns.set(source, compiled)
  }
  return compiled
}
const matches = (pattern: [RegExp, RegExp], text: string) => pattern[0].test(text) && pattern[1].test(text)

/** A JSON value a default may be: ajv writes it into its code as a literal. */
function isJson (value: unknown): boolean {
  if (isPrimitive(value)) return true
  if (Array.isArray(value)) return value.every(isJson)
  return isPlainObject(value) && !Object.hasOwn(value, '__proto__') && Object.values(value).every(isJson)
}

function typeAccepts (type: unknown, value: unknown): boolean {
  switch (type) {
    case 'string': return typeof value === 'string'
    case 'number': return typeof value === 'number' && Number.isFinite(value)
    case 'integer': return typeof value === 'number' && Number.isInteger(value)
    case 'boolean': return typeof value === 'boolean'
    case 'null': return value === null
    case 'array': return Array.isArray(value)
    case 'object': return value !== null && typeof value === 'object' && !Array.isArray(value)
    case 'function': return typeof value === 'function'
    default: return false
  }
}

function stringAccepts (schema: Schema, value: string): boolean {
  if (schema.minLength !== undefined || schema.maxLength !== undefined) {
    // TypeBox counts UTF-16 units, ajv code points: both must agree.
    const units = value.length
    const points = [...value].length
    if (schema.minLength !== undefined && !(isCount(schema.minLength) && Math.min(units, points) >= schema.minLength)) return false
    if (schema.maxLength !== undefined && !(isCount(schema.maxLength) && Math.max(units, points) <= schema.maxLength)) return false
  }
  if (schema.pattern !== undefined) {
    const pattern = patternOf(schema.pattern)
    if (pattern === null || !matches(pattern, value)) return false
  }
  return true
}

function numberAccepts (schema: Schema, value: number): boolean {
  const bound = (key: string, holds: (limit: number) => boolean) => {
    const limit = schema[key]
    return limit === undefined || (typeof limit === 'number' && Number.isFinite(limit) && holds(limit))
  }
  return bound('minimum', (limit) => value >= limit) && bound('maximum', (limit) => value <= limit) &&
    bound('exclusiveMinimum', (limit) => value > limit) && bound('exclusiveMaximum', (limit) => value < limit)
}

/** Own, defined, and read without surprises (no getter on the way, nothing inherited). */
function ownValue (value: object, key: string): { found: boolean, value?: unknown } | undefined {
  const descriptor = Object.getOwnPropertyDescriptor(value, key)
  if (descriptor === undefined) return key in value ? undefined : { found: false }
  if (!('value' in descriptor)) return undefined
  return descriptor.value === undefined ? undefined : { found: true, value: descriptor.value }
}

function objectAccepts (schema: Schema, value: object, defaults: boolean): boolean {
  const properties = schema.properties ?? {}
  const required = schema.required ?? []
  if (!isPlainObject(properties) || !Array.isArray(required)) return false
  if (defaults) {
    // As ajv's useDefaults: a property that is undefined takes a copy of its default, before `required` is checked.
    for (const [key, property] of Object.entries(properties)) {
      if (!isPlainObject(property) || property.default === undefined) continue
      if (!isJson(property.default)) return false
      const own = ownValue(value, key)
      if (own === undefined) return false
      if (!own.found) (value as Schema)[key] = structuredClone(property.default)
    }
  }
  for (const key of required) {
    if (typeof key !== 'string' || ownValue(value, key)?.found !== true) return false
  }
  for (const [key, property] of Object.entries(properties)) {
    const own = ownValue(value, key)
    if (own === undefined || !isPlainObject(property)) return false
    if (own.found && !accepts(property, own.value, defaults)) return false
  }
  const additional = schema.additionalProperties
  const patternProperties = schema.patternProperties
  if (additional === undefined && patternProperties === undefined) return true
  if (additional !== undefined && additional !== false) return false
  const compiled: Array<[[RegExp, RegExp], Schema]> = []
  if (patternProperties !== undefined) {
    if (!isPlainObject(patternProperties)) return false
    for (const [source, property] of Object.entries(patternProperties)) {
      const pattern = patternOf(source)
      if (pattern === null || !isPlainObject(property)) return false
      compiled.push([pattern, property])
    }
  }
  // Every key, however it is listed (own or inherited, enumerable or not), must be known.
  const keys = new Set(Object.getOwnPropertyNames(value))
  for (const key in value) keys.add(key)
  for (const key of keys) {
    if (Object.hasOwn(properties, key)) continue
    const own = ownValue(value, key)
    if (own === undefined || !own.found) return false
    const rules = compiled.filter(([pattern]) => matches(pattern, key))
    if (rules.length === 0 || (patternProperties === undefined && additional === false)) return false
    if (!rules.every(([, property]) => accepts(property, own.value, defaults))) return false
  }
  return true
}

/**
 * True when `value` is certainly valid against `schema`; false when it is not, or when the
 * schema says anything this function does not know. With `defaults`, properties that are
 * undefined take their defaults, as ajv's `useDefaults` does (`configAccepts` decides where).
 */
export function accepts (schema: unknown, value: unknown, defaults = false): boolean {
  try {
    if (!isPlainObject(schema)) return false
    for (const key of Object.keys(schema)) if (!KEYWORDS.has(key)) return false
    if (schema.anyOf !== undefined) {
      return Array.isArray(schema.anyOf) && Object.keys(schema).every((key) => key === 'anyOf' || METADATA.has(key)) &&
        schema.anyOf.some((branch) => accepts(branch, value, false))
    }
    if (schema.const !== undefined && !(isPrimitive(schema.const) && value === schema.const)) return false
    const { enum: members } = schema
    if (members !== undefined && !(Array.isArray(members) && members.every(isPrimitive) && members.includes(value))) return false
    if (schema.type === undefined) return schema.const !== undefined || schema.enum !== undefined
    if (!typeAccepts(schema.type, value)) return false
    if (typeof value === 'string') return stringAccepts(schema, value)
    if (typeof value === 'number') return numberAccepts(schema, value)
    if (Array.isArray(value)) {
      if (schema.minItems !== undefined && !(isCount(schema.minItems) && value.length >= schema.minItems)) return false
      if (schema.maxItems !== undefined && !(isCount(schema.maxItems) && value.length <= schema.maxItems)) return false
      if (schema.items === undefined) return true
      for (let index = 0; index < value.length; index++) {
        if (!Object.hasOwn(value, index) || !accepts(schema.items, value[index], defaults)) return false
      }
      return true
    }
    if (schema.type === 'object') return objectAccepts(schema, value as object, defaults)
    return true
  } catch {
    // A getter or Proxy in the value: the compiled validator decides.
    return false
  }
}

/**
 * Whether ajv (strict mode, the kit's options) certainly compiles `schema` and `accepts` with
 * defaults does exactly what ajv's useDefaults does on it: only the keywords above, well
 * formed, and defaults only on properties of typed objects (ajv refuses or ignores others).
 */
export function plainConfigSchema (schema: unknown, root = true, underProperties = false): boolean {
  if (!isPlainObject(schema)) return false
  for (const [key, value] of Object.entries(schema)) {
    if (!KEYWORDS.has(key) || key === 'parameters' || key === 'returnType' || key === 'patternProperties') return false
    if ((key === 'description' || key === 'title' || key === '$comment') && typeof value !== 'string') return false
    if (key === 'examples' && !Array.isArray(value)) return false
    if (['minLength', 'maxLength', 'minItems', 'maxItems'].includes(key) && !isCount(value)) return false
    const finite = typeof value === 'number' && Number.isFinite(value)
    if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].includes(key) && !finite) return false
    if (key === 'pattern' && patternOf(value) === null) return false
    if (key === 'const' && !isPrimitive(value)) return false
    if (key === 'enum' && !(Array.isArray(value) && value.length > 0 && value.every(isPrimitive) && new Set(value).size === value.length)) {
      return false
    }
    if (key === 'default' && (root || !underProperties || !isJson(value))) return false
    if (key === 'anyOf') return false
  }
  const type = schema.type
  if (type !== undefined && !['string', 'number', 'integer', 'boolean', 'null', 'array', 'object'].includes(type as string)) return false
  if (schema.properties !== undefined || schema.required !== undefined || schema.additionalProperties !== undefined) {
    if (type !== 'object') return false
    const { properties = {}, required = [], additionalProperties } = schema
    if (!isPlainObject(properties) || Object.hasOwn(properties, '__proto__')) return false
    const names = Array.isArray(required) && required.every((key) => typeof key === 'string')
    if (!names || new Set(required).size !== required.length) return false
    if (additionalProperties !== undefined && typeof additionalProperties !== 'boolean') return false
    if (!Object.values(properties).every((property) => plainConfigSchema(property, false, true))) return false
  }
  if (schema.items !== undefined && (type !== 'array' || !plainConfigSchema(schema.items, false, false))) return false
  return true
}
