// Direct tests of lib/validation.ts: the TypeBox checker used for options and manifests, the
// typo suggestions, and the ajv validator used for plugins' configSchema.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Type } from 'typebox'
import { checker, closest, configValidator, unknownKey } from '../lib/validation.ts'

const Schema = Type.Object({
  name: Type.String({ description: 'a name' }),
  list: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  'a/b~c': Type.Optional(Type.Object({ x: Type.Number() })),
  nested: Type.Optional(Type.Object({ deep: Type.Integer() }, { additionalProperties: false })),
  empty: Type.Optional(Type.Object({}, { additionalProperties: false })),
  mode: Type.Optional(Type.Union([Type.Literal('a'), Type.Literal('b')], { description: '"a" or "b"' })),
  plain: Type.Optional(Type.Union([Type.Literal('a'), Type.Number()]))
}, { additionalProperties: false })

test('checker: a valid value has no problem', () => {
  assert.equal(checker(Schema).problem({ name: 'x', list: ['a'], mode: 'b', plain: 2 }), undefined)
})

test('checker: the first problem, with a dotted path and a message in words', () => {
  const { problem } = checker(Schema)
  const cases: Array<[unknown, { path: string, message: string }]> = [
    [{}, { path: 'name', message: 'is required' }],
    [{ name: 1 }, { path: 'name', message: 'must be a name' }],
    [{ name: 'x', list: ['a', ''] }, { path: 'list[1]', message: 'must not have fewer than 1 characters' }],
    [{ name: 'x', nested: { deeep: 1 } }, { path: 'nested.deep', message: 'is required' }],
    [{ name: 'x', 'a/b~c': {} }, { path: 'a/b~c.x', message: 'is required' }],
    [{ name: 'x', 'a/b~c': { x: 'no' } }, { path: 'a/b~c.x', message: 'must be number' }],
    [5, { path: '', message: 'must be object' }],
    [null, { path: '', message: 'must be object' }]
  ]
  for (const [value, expected] of cases) assert.deepEqual(problem(value), expected, JSON.stringify(value))
})

test('checker: a union says its description, or the generic message when it has none', () => {
  const { problem } = checker(Schema)
  assert.deepEqual(problem({ name: 'x', mode: 'c' }), { path: 'mode', message: 'must be "a" or "b"' })
  assert.deepEqual(problem({ name: 'x', plain: true }), { path: 'plain', message: 'must match a schema in anyOf' })
})

test('checker: an unknown key suggests the one meant, else lists the known keys', () => {
  const { problem } = checker(Schema)
  assert.deepEqual(problem({ name: 'x', nme: 1 }), { path: 'nme', message: 'is not a known key (did you mean name?)' })
  assert.deepEqual(problem({ name: 'x', zzzzzzzz: 1 }),
    { path: 'zzzzzzzz', message: 'is not a known key (expected one of name, list, a/b~c, nested, empty, mode, plain)' })
  assert.deepEqual(problem({ name: 'x', empty: { q: 1 } }), { path: 'empty.q', message: 'is not a known key (no keys are allowed here)' })
})

test('closest: ignores case, - and _, allows a few edits, and gives up on unrelated words', () => {
  assert.equal(closest('beforeRequest', ['before_request', 'after_request']), 'before_request')
  assert.equal(closest('pluginFolder', ['pluginsFolder', 'pluginPackages']), 'pluginsFolder')
  assert.equal(closest('TEP', ['tep', 'hep']), 'tep')
  assert.equal(closest('zzz', ['pluginsFolder']), undefined)
  assert.equal(closest('anything', []), undefined)
})

test('unknownKey: a guess, the known keys, or that none are allowed', () => {
  assert.equal(unknownKey('nme', ['name']), 'is not a known key (did you mean name?)')
  assert.equal(unknownKey('zzz', ['a', 'b']), 'is not a known key (expected one of a, b)')
  assert.equal(unknownKey('x', []), 'is not a known key (no keys are allowed here)')
})

const ConfigSchema = {
  type: 'object',
  properties: {
    host: { type: 'string', default: 'localhost' },
    port: { type: 'integer' },
    email: { type: 'string', format: 'email' },
    level: { enum: ['info', 'warn'] },
    fixed: { const: 3 },
    either: { anyOf: [{ type: 'string' }, { type: 'number' }], description: 'a string or a number' },
    one: { oneOf: [{ type: 'string' }, { type: 'number' }] },
    sub: { type: 'object', properties: { k: { type: 'string' } }, required: ['k'], additionalProperties: false }
  },
  required: ['port'],
  additionalProperties: false
}

test('configValidator: applies defaults to the value it checks', () => {
  const value: Record<string, unknown> = { port: 80 }
  assert.deepEqual(configValidator(ConfigSchema).check(value), [])
  assert.deepEqual(value, { port: 80, host: 'localhost' })
})

test('configValidator: reports every problem, one line per value, never coercing types', () => {
  const value = { port: '1', email: 'no', level: 'x', fixed: 4, either: true, one: [], sub: { kk: 1 }, extra: 1, prot: 2 }
  assert.deepEqual(configValidator(ConfigSchema).check(value), [
    { path: 'extra', message: 'is not a known key (expected one of host, port, email, level, fixed, either, one, sub)' },
    { path: 'prot', message: 'is not a known key (did you mean port?)' },
    { path: 'port', message: 'must be integer' },
    { path: 'email', message: 'must match format "email"' },
    { path: 'level', message: 'must be one of "info", "warn"' },
    { path: 'fixed', message: 'must be 3' },
    { path: 'either', message: 'must be a string or a number' },
    { path: 'one', message: 'must match exactly one schema in oneOf' },
    { path: 'sub.k', message: 'is required' },
    { path: 'sub.kk', message: 'is not a known key (did you mean k?)' }
  ])
  assert.deepEqual(configValidator(ConfigSchema).check({}), [{ path: 'port', message: 'is required' }])
})

test('configValidator: TypeBox schemas work as plain JSON Schema', () => {
  const validator = configValidator(Type.Object({ limitIp: Type.String({ default: '127.0.0.1' }) }))
  const value = {}
  assert.deepEqual(validator.check(value), [])
  assert.deepEqual(value, { limitIp: '127.0.0.1' })
})

test('configValidator: an invalid schema throws with ajv\'s message', () => {
  assert.throws(() => configValidator({ type: 'nonsense' }), /schema is invalid: data\/type must be equal to one of the allowed values/)
})

test('configValidator: two schemas may use the same $id (nothing is kept in a cache)', () => {
  const first = configValidator({ $id: 'same', type: 'object' })
  const second = configValidator({ $id: 'same', type: 'string' })
  assert.deepEqual(first.check({}), [])
  assert.deepEqual(second.check(1), [{ path: '', message: 'must be string' }])
})
