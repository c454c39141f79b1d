// Issue 5.1, property-based: random plugin modules (manifest fields of random values and
// types, weird strings included, random extension point objects, throwing / rejecting /
// hanging register functions, broken module sources) never make boot fail with anything
// but a PluginKitError, and never make it hang. Under strict: false every plugin folder
// ends up either loaded or listed in `failures`, and the app answers requests.
// FC_SEED / FC_RUNS reproduce or widen a run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import Fastify from 'fastify'
import pluginKit, { PluginKitError } from 'fastify-pluginkit'
import { makeTree, type Tree } from './helpers.ts'

const NAMES = ['alpha', 'beta', 'gamma']
const LOAD_TIMEOUT = 300
/** A run (boot + one request + close) that takes longer than this has hung. */
const RUN_TIMEOUT = 15_000

const weirdStrings = [
  '', ' ', 'a', 'alpha', 'beta', '1.0.0', 'v1.0.0', '1.0', '^1.0.0', '*', '5.x', '4.x', '>=99', 'latest', '__proto__', 'constructor',
  'toString', 'hasOwnProperty', '../x', '/x', '/x/', '//', '/a b', '/a//b', 'a b', '\u0000', '\u202e', '\ud800', '😀', '$' + '{x}', '`',
  '\\', "'", '"', '</script>', '{{ 7 * 7 }}', '{% raw %}', 'null', 'undefined', 'enabled', 'disabled', 'x.html', '../../etc/passwd',
  'x'.repeat(2000), '-1', '0', 'NaN', 'https://example.org'
]

/** A string literal (JS source) of a weird or random string. */
const stringSource: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...weirdStrings),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 })
).map((value) => JSON.stringify(value))

/** Any value, as JS source. */
const valueSource: fc.Arbitrary<string> = fc.oneof(
  stringSource,
  fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value) ?? 'null'),
  fc.constantFrom('undefined', 'null', 'NaN', '-Infinity', '0', '-0', '1e309', '12n', 'true', '() => {}', 'async () => ({})', 'class {}',
    "Symbol('s')", '[]', '{}', 'new Date(0)', '/re/', 'Object.create(null)', "new Proxy({}, { get () { throw new Error('trap') } })",
    "{ get x () { throw new Error('getter') } }", 'Object.assign(() => {}, { x: 1 })', 'new Map()', 'Promise.resolve({})')
)

const prefixSource = fc.oneof({ weight: 5, arbitrary: fc.constantFrom("'/p'", "'/q/r'", "'/p-ü'", 'null', 'undefined') },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom("'p'", "'/p/'", "'/a b'", "'//'"), stringSource) })
const functionSource = fc.constantFrom('() => {}', 'async () => undefined', '(request, reply, payload) => payload', "() => { throw new Error('hook') }", 'class {}')

/** An extension point value (JS source) for `key`: usually of the right shape, often not. */
function pointSource (key: string, index: number): fc.Arbitrary<string> {
  const route = `'/r${index}'`
  const shaped: Record<string, fc.Arbitrary<string>> = {
    bep: fc.oneof(
      prefixSource.map((prefix) => `{ prefix: ${prefix}, blueprint: async (app) => { app.get('/', async () => 'bep') } }`),
      fc.tuple(prefixSource, fc.constantFrom(...NAMES)).map(([prefix, parent]) => `{ prefix: ${prefix}, parent: '${parent}', blueprint: async (app) => { app.get('/n${index}', async () => 'nested') } }`),
      prefixSource.map((prefix) => `[{ prefix: ${prefix}, blueprint: (app, options, done) => done() }]`)
    ),
    hep: fc.record({ before_request: functionSource, after_request: functionSource, teardown_request: functionSource },
      { requiredKeys: [] })
      .map((hooks) => `{ ${Object.entries(hooks).map(([name, fn]) => `${name}: ${fn}`).join(', ')} }`),
    vep: fc.constantFrom(
      `{ method: 'GET', url: ${route}, handler: async () => 'vep' }`,
      `[{ method: ['GET', 'POST'], url: ${route}, handler: () => 'vep' }]`,
      `{ method: 'GET', url: ${route}, blueprint: 'alpha', handler: () => 'in alpha' }`,
      `{ method: 'GET', url: ${route} }`,
      `{ url: ${route}, handler: () => 'x' }`
    ).chain((plausible) => fc.oneof(
      { weight: 4, arbitrary: fc.constant(plausible) },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.oneof(fc.constantFrom("'GET'", "'FETCH'", "['GET', 'BREW']"), stringSource), fc.oneof(fc.constantFrom("'/'", route, "'no-slash'", "'/r0'"), stringSource))
          .map(([method, url]) => `{ method: ${method}, url: ${url}, handler: () => 'odd' }`)
      }
    )),
    cvep: prefixSource.map((prefix) => `{ prefix: ${prefix}, controller: class { index () { return 'i' } get (request) { return request.params.id } _hidden () {} } }`),
    tep: fc.tuple(fc.constantFrom('header', 'footer', '__proto__', ''), fc.oneof(stringSource, fc.constantFrom("{ code: '<b/>', order: 1 }", "{ template: 'missing.html' }", "['<i/>', { code: '{{ x }}' }]", '{}')))
      .map(([slot, entry]) => `{ ${JSON.stringify(slot)}: ${entry} }`),
    filter: fc.constantFrom('{ upper: (v) => String(v).toUpperCase() }', '[function shout (v) { return v }]', "[['pair', (v) => v]]", '[() => 1]', "{ bad: 'x' }"),
    tcp: fc.constantFrom('{ site: 1 }', '{ who: (request) => request.url }', "{ ['__proto__']: 1 }"),
    errhandler: fc.constantFrom("{ 500: (error, request, reply) => reply.send('handled') }", "[{ error: 404, handler: () => 'nf' }]", '[{ error: TypeError, handler: () => 1 }]', "{ 99: () => 'x' }", "{ '5xx': () => 'x' }"),
    p3: fc.constantFrom('{ alpha: { tcp: (value) => ({ ...value, added: 1 }) } }', "{ beta: { bep: () => 'garbage' } }", "{ gamma: { tep: () => { throw new Error('p3') } } }", '{ ghost: {} }')
  }
  const arbitrary = Object.hasOwn(shaped, key) ? shaped[key] : undefined
  return arbitrary === undefined ? valueSource : fc.oneof({ weight: 8, arbitrary }, { weight: 1, arbitrary: valueSource })
}

const POINT_KEYS = ['bep', 'hep', 'vep', 'cvep', 'tep', 'filter', 'tcp', 'errhandler', 'p3']
const ODD_KEYS = ['routes', 'views', 'constructor', 'toString', '__proto__', '']

function pointsSource (index: number): fc.Arbitrary<string> {
  const key = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...POINT_KEYS) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_KEYS) })
  return fc.uniqueArray(key, { maxLength: 4 })
    .chain((keys) => fc.tuple(...keys.map((key) => pointSource(key, index).map((value) => `${JSON.stringify(key)}: ${value}`))))
    .map((entries) => `{ ${entries.join(', ')} }`)
}

/** The `register` member (JS source), or '' for none. */
function registerSource (index: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 12, arbitrary: pointsSource(index).map((points) => `register (ctx) { return ${points} }`) },
    { weight: 4, arbitrary: pointsSource(index).map((points) => `async register (ctx) { await null; return ${points} }`) },
    { weight: 1, arbitrary: valueSource.map((value) => `register () { return ${value} }`) },
    { weight: 1, arbitrary: valueSource.map((value) => `register () { throw ${value} }`) },
    { weight: 1, arbitrary: valueSource.map((value) => `async register () { throw ${value} }`) },
    { weight: 1, arbitrary: valueSource.map((value) => `register: ${value}`) },
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constant('register () { return new Promise(() => {}) }') }
  )
}

/**
 * One manifest field as JS source, or undefined (absent): a plausible value (which may
 * still be wrong: an unsatisfied range, a missing dependency), sometimes absent (required
 * fields rarely), sometimes a random value of any type.
 */
function field (key: string, plausible: fc.Arbitrary<string>, required: boolean): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: required ? 40 : 4, arbitrary: plausible.map((value) => `${key}: ${value}`) },
    { weight: required ? 1 : 30, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: valueSource.map((value) => `${key}: ${value}`) }
  )
}

/** Mostly the first arbitrary, sometimes (1 in `odds`) the second. */
function mostly (usual: fc.Arbitrary<string>, rare: fc.Arbitrary<string>, odds = 8): fc.Arbitrary<string> {
  return fc.oneof({ weight: odds - 1, arbitrary: usual }, { weight: 1, arbitrary: rare })
}

const rangeSource = mostly(fc.constantFrom("'*'", "'^1.0.0'", "'>=0.0.0'", "'5.x'", "'>=0.1.0-0'", "'0.x || >=1.0.0'"),
  fc.oneof(fc.constantFrom("'^99.0.0'", "'4.x'", "'not a range'", "''"), stringSource))

/** Manifest fields (JS source) of the plugin in folder p<index>. */
function fieldsSource (index: number): fc.Arbitrary<string[]> {
  const others = NAMES.filter((_name, position) => position !== index)
  return fc.tuple(
    field('name', mostly(fc.constant(`'${NAMES[index]}'`), fc.constantFrom(...NAMES.map((name) => `'${name}'`))), true),
    field('version', mostly(fc.constantFrom("'1.0.0'", "'0.1.0-beta.1+build.7'", "'2.0.0'"), fc.constantFrom("'v1.0.0'", "'1.0'", "'01.0.0'"), 16), true),
    field('author', fc.constantFrom("'tester'", "'Ünïcödé <a@b.c>'", "'x'.repeat(500)"), true),
    field('description', stringSource, false),
    field('url', fc.constant("'https://example.org'"), false),
    field('license', fc.constant("'MIT'"), false),
    field('state', mostly(fc.constantFrom("'enabled'", "'disabled'"), fc.constant("'off'")), false),
    field('appVersion', rangeSource, false),
    field('fastify', rangeSource, false),
    field('dependencies', fc.oneof(
      fc.uniqueArray(mostly(fc.constantFrom(...others), fc.constantFrom(NAMES[index] as string, 'ghost')), { maxLength: 2 }).map((names) => JSON.stringify(names)),
      fc.dictionary(mostly(fc.constantFrom(...others), fc.constant('ghost')), rangeSource, { maxKeys: 2 })
        .map((deps) => `{ ${Object.entries(deps).map(([name, range]) => `${JSON.stringify(name)}: ${range}`).join(', ')} }`)
    ), false),
    field('configSchema', mostly(fc.constant("{ type: 'object', properties: { a: { type: 'string', default: 'x' } } }"),
      fc.constantFrom("{ type: 'object', required: ['must'] }", "{ type: 'nonsense' }")), false)
  ).map((entries) => entries.filter((entry): entry is string => entry !== undefined))
}

interface PluginCase {
  kind: 'default' | 'named' | 'cjs' | 'syntax'
  fields: string[]
  register: string
}

const pluginCase = (index: number): fc.Arbitrary<PluginCase> => fc.record({
  kind: fc.oneof({ weight: 16, arbitrary: fc.constant('default' as const) }, { weight: 4, arbitrary: fc.constantFrom('named' as const, 'cjs' as const) }, { weight: 1, arbitrary: fc.constant('syntax' as const) }),
  fields: fieldsSource(index),
  register: registerSource(index)
})

function moduleSource ({ kind, fields, register }: PluginCase): [string, string] {
  const members = [...fields, register].filter((member) => member !== '')
  if (kind === 'syntax') return ['index.mjs', `export default { ${members.join(', ')}`]
  if (kind === 'cjs') return ['index.cjs', `module.exports = { ${members.join(', ')} }\n`]
  if (kind === 'named') {
    // `name: value` -> `export const name = value`; `register (...) {...}` -> `export function register (...) {...}`
    const lines = members.map((member) => /^\w+: /.test(member)
      ? `export const ${member.replace(/^(\w+): /, '$1 = ')}`
      : `export ${member.startsWith('async ') ? 'async function ' + member.slice(6) : 'function ' + member}`)
    return ['index.mjs', lines.join('\n') + '\n']
  }
  return ['index.mjs', `export default { ${members.join(', ')} }\n`]
}

const scenario = fc.record({
  plugins: fc.integer({ min: 1, max: 3 })
    .chain((count) => fc.tuple(...Array.from({ length: count }, (_unused, index) => pluginCase(index)))),
  strict: fc.boolean()
})

async function runScenario ({ plugins, strict }: { plugins: PluginCase[], strict: boolean }): Promise<void> {
  const tree: Tree = {}
  plugins.forEach((plugin, index) => {
    const [file, source] = moduleSource(plugin)
    tree[`plugins/p${index}/${file}`] = source
  })
  const base = await makeTree(tree)
  const app = Fastify({ logger: false, pluginTimeout: RUN_TIMEOUT })
  app.get('/', async () => 'hello world')
  try {
    let bootError: unknown
    try {
      await app.register(pluginKit, { pluginsBase: base, store: 'memory', strict, loadTimeout: LOAD_TIMEOUT })
      await app.ready()
    } catch (error) {
      bootError = error
    }
    if (bootError !== undefined) {
      assert.ok(bootError instanceof PluginKitError,
        `boot failed with something other than a PluginKitError: ${String(bootError)}\n${(bootError as Error | null)?.stack ?? ''}`)
      assert.match(bootError.code, /^PLUGINKIT_ERR_/)
      assert.ok(bootError.message.length > 0)
      return
    }
    const { plugins: loaded, failures } = app.pluginKit
    if (strict) assert.deepEqual(failures, [])
    // Every folder is either loaded or listed once in failures.
    assert.equal(loaded.length + failures.length, plugins.length,
      `loaded: ${loaded.map((plugin) => plugin.dir).join(', ')}; failed: ${failures.map((failure) => failure.dir).join(', ')}`)
    for (const failure of failures) {
      assert.ok(failure.error instanceof PluginKitError, String(failure.error))
      assert.equal(typeof failure.plugin, 'string')
    }
    // The app answers (what it answers depends on the plugins' hooks and handlers).
    const response = await app.inject('/')
    assert.ok(response.statusCode >= 200 && response.statusCode < 600)
  } finally {
    await app.close().catch(() => {})
  }
}

test('random plugin modules: boot succeeds or fails with a PluginKitError, never anything else, never hangs', { timeout: 240_000 }, async () => {
  const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED)
  await fc.assert(fc.asyncProperty(scenario, runScenario), {
    numRuns: Number(process.env.FC_RUNS ?? 100),
    plugins: [fc.timeout(RUN_TIMEOUT)],
    ...(seed === undefined ? {} : { seed })
  })
})

test('the generator produces every kind of outcome (sanity check of the property above)', async () => {
  // Deterministic sample: some scenarios boot, some fail with each of several codes.
  const outcomes = new Set<string>()
  for (const input of fc.sample(scenario, { numRuns: 60, seed: 42 })) {
    const tree: Tree = {}
    input.plugins.forEach((plugin, index) => {
      const [file, source] = moduleSource(plugin)
      tree[`plugins/p${index}/${file}`] = source
    })
    const base = await makeTree(tree)
    const app = Fastify({ logger: false })
    try {
      await app.register(pluginKit, { pluginsBase: base, store: 'memory', strict: true, loadTimeout: LOAD_TIMEOUT })
      await app.ready()
      outcomes.add('booted')
    } catch (error) {
      outcomes.add(error instanceof PluginKitError ? error.code : 'other')
    } finally {
      await app.close().catch(() => {})
    }
  }
  assert.ok(outcomes.has('booted'), [...outcomes].join(', '))
  assert.ok([...outcomes].filter((outcome) => outcome.startsWith('PLUGINKIT_ERR_')).length >= 4, [...outcomes].join(', '))
})
