// lib/accept.ts answers "certainly valid" without compiling: whenever it says so, the
// compiled validators (TypeBox's compiler for the kit's checks, ajv for config schemas)
// must agree, and for configs the defaults it applies must be ajv's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Ajv } from 'ajv'
import { Type, type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { accepts, plainConfigSchema } from '../lib/accept.ts'
import { ManifestSchema } from '../lib/manifest.ts'

const leaf: fc.Arbitrary<TSchema> = fc.oneof(
  fc.record({ minLength: fc.nat(3), maxLength: fc.integer({ min: 3, max: 6 }) }, { requiredKeys: [] })
    .map((options) => Type.String(options)),
  fc.constantFrom('^a', 'b$', '^[A-Za-z0-9][A-Za-z0-9_-]*$').map((pattern) => Type.String({ pattern })),
  fc.record({ minimum: fc.integer({ min: -5, max: 0 }), maximum: fc.integer({ min: 0, max: 5 }) }, { requiredKeys: [] })
    .map((options) => Type.Number(options)),
  fc.constant(Type.Integer()),
  fc.constant(Type.Boolean()),
  fc.constant(Type.Null()),
  fc.constantFrom('a', 'b', 1).map((value) => Type.Literal(value))
)

const withDefault = (schema: TSchema, value: unknown): TSchema => ({ ...schema, default: value }) as TSchema

const schemas: fc.Arbitrary<TSchema> = fc.letrec<{ node: TSchema }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('node'), { maxLength: 3 }).map((items) => Type.Union(items.length === 0 ? [Type.String()] : items)),
    tie('node').map((item) => Type.Array(item, { maxItems: 3 })),
    fc.tuple(
      fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.tuple(tie('node'), fc.boolean(), fc.option(fc.jsonValue({ maxDepth: 1 })))),
      fc.boolean()
    ).map(([properties, closed]) => Type.Object(Object.fromEntries(Object.entries(properties).map(([key, [schema, optional, fallback]]) => {
      const property = fallback === null ? schema : withDefault(schema, fallback)
      return [key, optional ? Type.Optional(property) : property]
    })), closed ? { additionalProperties: false } : {}))
  )
})).node

const values = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined))),
  // eslint-disable-next-line no-sparse-arrays
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, '\u{1F600}\u{1F600}\u{1F600}', () => {}, [1, , 2])
)

/** A copy to hand over (accepts with defaults writes into it); functions are kept as they are. */
function copy (value: unknown): unknown {
  try {
    return structuredClone(value)
  } catch {
    return value
  }
}

// The kit's options (lib/validation.ts).
const ajv = new Ajv({
  useDefaults: true, allErrors: true, verbose: true, coerceTypes: false, strictTypes: false, strictTuples: false, addUsedSchema: false
})

test('accepts: whenever it says valid, TypeBox\'s compiled check agrees', () => {
  fc.assert(fc.property(schemas, values, (schema, value) => {
    if (accepts(schema, copy(value))) assert.ok(Compile(schema).Check(value), JSON.stringify({ schema, value }))
  }), { numRuns: 3000 })
})

test('accepts: the manifest schema, on manifests', () => {
  const manifest = { name: 'a', version: '1.0.0', author: 'x', register () { return {} } }
  assert.equal(accepts(ManifestSchema, manifest), true)
  assert.equal(accepts(ManifestSchema, { ...manifest, dependencies: ['b', 'c'], state: 'disabled' }), true)
  assert.equal(accepts(ManifestSchema, { ...manifest, version: '1.0' }), false)
  assert.equal(accepts(ManifestSchema, { ...manifest, name: undefined }), false)
  assert.equal(accepts(ManifestSchema, { ...manifest, get author () { throw new Error('getter') } }), false)
  fc.assert(fc.property(fc.dictionary(fc.constantFrom(...Object.keys(ManifestSchema.properties)), fc.anything()), (fields) => {
    const candidate = { ...manifest, ...fields }
    if (accepts(ManifestSchema, candidate)) assert.ok(Compile(ManifestSchema).Check(candidate))
  }), { numRuns: 2000 })
})

test('plainConfigSchema + accepts with defaults: ajv compiles the schema, agrees, and applies the same defaults', () => {
  fc.assert(fc.property(schemas, values, (schema, value) => {
    if (!plainConfigSchema(schema)) return
    const validate = ajv.compile(schema)
    ajv.removeSchema(schema)
    const ours = copy(value)
    if (!accepts(schema, ours, true)) return
    const theirs = copy(value)
    assert.ok(validate(theirs), JSON.stringify({ schema, value, errors: validate.errors }))
    assert.deepEqual(ours, theirs)
  }), { numRuns: 3000 })
})

test('plainConfigSchema: what ajv refuses or treats apart is not plain', () => {
  assert.equal(plainConfigSchema(Type.Object({ greeting: Type.String({ default: 'hi' }) })), true)
  assert.equal(plainConfigSchema({ type: 'object', default: {} }), false, 'a default at the root')
  assert.equal(plainConfigSchema({ type: 'object', properties: { a: { type: 'strin' } } }), false)
  assert.equal(plainConfigSchema({ type: 'object', properties: { a: { type: 'string', format: 'email' } } }), false)
  assert.equal(plainConfigSchema({ type: 'object', properties: { a: { anyOf: [{ type: 'string', default: 'x' }] } } }), false)
  assert.equal(plainConfigSchema({ type: 'object', required: ['a', 'a'] }), false)
  assert.equal(plainConfigSchema({ type: 'string', pattern: '(' }), false)
})
