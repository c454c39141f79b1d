// SPEC section 4 (manifest fields, configSchema, register's result) and the extension point
// validation of section 5 that happens at boot.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { kitVersion, PluginKitError, type PluginKitErrorCode } from 'fastify-pluginkit'
import { join } from 'node:path'
import { buildApp, code, makeTree, pluginSource, routeBody } from './helpers.ts'
import { bootError, names, readyError, nodeModuleLinks, repoRoot } from './helpers-loading.ts'

const fastifyVersion = (createRequire(import.meta.url)('fastify/package.json') as { version: string }).version

test('kitVersion is a semver string', () => {
  assert.match(kitVersion, /^\d+\.\d+\.\d+/)
})

// [title, field overrides, code, mentions]; the plugin folder is "subject-dir".
const badManifests: Array<[string, Record<string, unknown>, PluginKitErrorCode, Array<string | RegExp>]> = [
  ['name missing', { name: undefined }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject-dir', 'name']],
  ['name with a space', { name: 'bad name' }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject-dir', 'name']],
  ['name starting with a dash', { name: '-dash' }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject-dir', 'name']],
  ['name starting with an underscore', { name: '_under' }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject-dir', 'name']],
  ['name with a slash', { name: 'a/b' }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject-dir', 'name']],
  ['name empty', { name: '' }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject-dir', 'name']],
  ['name a number', { name: 42 }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject-dir', 'name']],
  ['author missing', { author: undefined }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'author']],
  ['author empty', { author: '' }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'author']],
  ['author a number', { author: 7 }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'author']],
  ['description a number', { description: 7 }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'description']],
  ['url an object', { url: {} }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'url']],
  ['license a boolean', { license: true }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'license']],
  ['state unknown', { state: 'on' }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'state']],
  ['state a boolean', { state: false }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'state']],
  ['dependencies a string', { dependencies: 'other' }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'dependencies']],
  ['dependencies with a number', { dependencies: [42] }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'dependencies']],
  ['dependencies with a bad name', { dependencies: ['bad name'] }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'dependencies']],
  ['dependencies with a bad range', { dependencies: { other: 'not a range!' } }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'dependencies']],
  ['dependencies with a non-string range', { dependencies: { other: 2 } }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'dependencies']],
  ['configSchema a string', { configSchema: 'object' }, 'PLUGINKIT_ERR_PLUGIN_METADATA', ['subject', 'configSchema']],
  ['version v-prefixed', { version: 'v2.19.10' }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'version']],
  ['version with four parts', { version: '1.0.1.0' }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'version']],
  ['version with two parts', { version: '1.0' }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'version']],
  ['version with a leading zero', { version: '01.0.0' }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'version']],
  ['version with an empty prerelease', { version: '1.0.0-' }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'version']],
  ['version with =', { version: '=1.0.0' }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'version']],
  ['version with spaces', { version: ' 1.0.0 ' }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'version']],
  ['version a range', { version: '^1.0.0' }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'version']],
  ['version a number', { version: 1 }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'version']],
  ['appVersion not satisfied', { appVersion: `>${kitVersion}` }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'appVersion']],
  ['appVersion of another major', { appVersion: '^99.0.0' }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'appVersion']],
  ['fastify range not satisfied', { fastify: '4.x' }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'fastify']],
  ['fastify range above the host', { fastify: `>${fastifyVersion}` }, 'PLUGINKIT_ERR_PLUGIN_VERSION', ['subject', 'fastify']]
]

for (const [title, overrides, code, mentions] of badManifests) {
  test(`manifest: ${title} -> ${code}`, async () => {
    const base = await makeTree({
      'plugins/subject-dir/index.mjs': pluginSource({ name: 'subject', ...overrides }),
      'plugins/zz-good/index.mjs': pluginSource({ name: 'zz-good' }, routeBody('zz-good'))
    })
    const error = await bootError(base, {}, code, ...mentions)
    assert.equal(error.name, 'PluginKitError')
  })
}

test('manifest: register missing or not a function -> PLUGINKIT_ERR_PLUGIN_METADATA', async () => {
  const missing = await makeTree({ 'plugins/subject/index.mjs': pluginSource({ name: 'subject' }, null) })
  await bootError(missing, {}, 'PLUGINKIT_ERR_PLUGIN_METADATA', 'subject', 'register')
  const notFunction = await makeTree({ 'plugins/subject/index.mjs': pluginSource({ name: 'subject', register: 'yes' }, null) })
  await bootError(notFunction, {}, 'PLUGINKIT_ERR_PLUGIN_METADATA', 'subject', 'register')
})

test('manifest: version missing -> an error naming plugin and field', async () => {
  const base = await makeTree({ 'plugins/subject/index.mjs': pluginSource({ name: 'subject', version: undefined }) })
  const error = await readyError(buildApp(base, {}, { until: 'none' }))
  assert.ok(error instanceof PluginKitError)
  assert.ok(error.code === 'PLUGINKIT_ERR_PLUGIN_VERSION' || error.code === 'PLUGINKIT_ERR_PLUGIN_METADATA', error.code)
  assert.match(error.message, /subject/)
  assert.match(error.message, /version/)
})

test('manifest: a module that exports nothing usable -> PLUGINKIT_ERR_PLUGIN_METADATA naming the folder', async () => {
  const base = await makeTree({ 'plugins/empty-module/index.mjs': 'export const unrelated = 1\n' })
  await bootError(base, {}, 'PLUGINKIT_ERR_PLUGIN_METADATA', 'empty-module')
})

test('manifest: valid versions and satisfied ranges are accepted', async () => {
  const versions = ['1.1.1-beta+compile10', '0.0.0', '1.0.0-rc.1', '10.20.30', '1.0.0+build.5', '2.0.0-alpha-1.x.7']
  const tree: Record<string, string> = {}
  versions.forEach((version, index) => {
    tree[`plugins/v${index}/index.mjs`] = pluginSource({ name: `v${index}`, version }, routeBody(`v${index}`))
  })
  tree['plugins/ranges/index.mjs'] = pluginSource({ name: 'ranges', appVersion: `^${kitVersion}`, fastify: '5.x' }, routeBody('ranges'))
  tree['plugins/ranges-any/index.mjs'] = pluginSource({ name: 'ranges-any', appVersion: '*', fastify: `>=${fastifyVersion}` }, routeBody('ranges-any'))
  const base = await makeTree(tree)
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(app.pluginKit.plugins.filter((plugin) => plugin.name.startsWith('v')).map((plugin) => plugin.version), versions)
  assert.equal(app.pluginKit.get('ranges').state, 'enabled')
  assert.deepEqual((await app.inject('/v0')).json(), { plugin: 'v0' })
  assert.deepEqual((await app.inject('/ranges-any')).json(), { plugin: 'ranges-any' })
})

test('manifest: optional fields are reported in PluginInfo and dependencies normalised to name -> range', async () => {
  const base = await makeTree({
    'plugins/base/index.mjs': pluginSource({ name: 'base', version: '1.2.3' }, routeBody('base')),
    'plugins/full/index.mjs': pluginSource({
      name: 'full',
      description: 'desc',
      url: 'https://example.org',
      license: 'MIT',
      licenseFile: 'LICENSE',
      readmeFile: 'README.md',
      dependencies: ['base']
    }, routeBody('full')),
    'plugins/ranged/index.mjs': pluginSource({ name: 'ranged', dependencies: { base: '^1.2.0' } }, routeBody('ranged'))
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  const full = app.pluginKit.get('full')
  assert.equal(full.description, 'desc')
  assert.equal(full.url, 'https://example.org')
  assert.equal(full.license, 'MIT')
  assert.equal(full.licenseFile, 'LICENSE')
  assert.equal(full.readmeFile, 'README.md')
  assert.equal(full.author, 'tester')
  assert.deepEqual(Object.keys(full.dependencies), ['base'])
  assert.equal(typeof full.dependencies.base, 'string')
  assert.deepEqual(app.pluginKit.get('ranged').dependencies, { base: '^1.2.0' })
  assert.deepEqual(app.pluginKit.get('base').dependencies, {})
})

test('manifest: state "disabled" means the routes answer 404 until enabled, and register still ran', async () => {
  const base = await makeTree({
    'plugins/sleeper/index.mjs': pluginSource({ name: 'sleeper', state: 'disabled' }, routeBody('sleeper')),
    'plugins/awake/index.mjs': pluginSource({ name: 'awake', state: 'enabled' }, routeBody('awake'))
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.equal(app.pluginKit.get('sleeper').state, 'disabled')
  assert.deepEqual(app.pluginKit.enabledPlugins.map((plugin) => plugin.name), ['awake'])
  const unknown = await app.inject('/no-such-page')
  const disabled = await app.inject('/sleeper')
  assert.equal(disabled.statusCode, 404)
  assert.equal(disabled.body, unknown.body.replace('/no-such-page', '/sleeper'))
  await app.pluginKit.enable('sleeper')
  assert.deepEqual((await app.inject('/sleeper')).json(), { plugin: 'sleeper' })
  assert.equal(app.pluginKit.get('sleeper').state, 'enabled')
})

const schemaPlugin = `import { Type } from 'typebox'
import { definePlugin } from 'fastify-pluginkit'

export default definePlugin({
  name: 'helloworld',
  version: '0.1.0',
  author: 'staugur',
  configSchema: Type.Object({
    limitIp: Type.String({ default: '127.0.0.1' }),
    max: Type.Integer({ default: 3 }),
    db: Type.Object({ port: Type.Integer({ default: 5432 }), host: Type.String({ default: 'localhost' }) }, { default: {} })
  }),
  register (ctx) {
    return { bep: { prefix: '/hello', blueprint: async (app) => { app.get('/', async () => ctx.config) } } }
  }
})
`

test('configSchema: defaults are applied to ctx.config', async () => {
  const base = await makeTree({ ...nodeModuleLinks, 'plugins/helloworld/index.mjs': schemaPlugin })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual((await app.inject('/hello')).json(), { limitIp: '127.0.0.1', max: 3, db: { port: 5432, host: 'localhost' } })
})

test('configSchema: pluginConfig[name] is validated and merged with the defaults', async () => {
  const base = await makeTree({ ...nodeModuleLinks, 'plugins/helloworld/index.mjs': schemaPlugin })
  const given = { limitIp: '10.0.0.1', db: { host: 'db.local' } }
  const app = await buildApp(base, { pluginConfig: { helloworld: given, other: { ignored: true } } }, { until: 'ready' })
  assert.deepEqual((await app.inject('/hello')).json(), { limitIp: '10.0.0.1', max: 3, db: { port: 5432, host: 'db.local' } })
  assert.deepEqual(given, { limitIp: '10.0.0.1', db: { host: 'db.local' } }, 'the caller\'s object is not mutated')
})

test('configSchema: a class instance in pluginConfig reaches ctx.config as the same object; plain objects and arrays are copied', async () => {
  const base = await makeTree({
    ...nodeModuleLinks,
    'plugins/uses-client/index.mjs': pluginSource({
      name: 'uses-client',
      configSchema: code('Type.Object({ client: Type.Unknown(), routes: Type.Array(Type.Object({ path: Type.String(), weight: Type.Integer({ default: 1 }) })) })')
    }, `return { bep: { prefix: '/client', blueprint: async (app) => {
      app.get('/', async () => ({ answer: ctx.config.client.ping(), routes: ctx.config.routes }))
    } } }`, { header: "import { Type } from 'typebox'" })
  })
  class Client {
    calls = 0
    ping (): string { this.calls++; return 'pong' }
  }
  const client = new Client()
  const routes = [{ path: '/a' }, { path: '/b', weight: 5 }]
  const app = await buildApp(base, { pluginConfig: { 'uses-client': { client, routes } } }, { until: 'ready' })
  assert.deepEqual((await app.inject('/client')).json(), { answer: 'pong', routes: [{ path: '/a', weight: 1 }, { path: '/b', weight: 5 }] })
  assert.equal(client.calls, 1, 'the plugin called the host\'s own instance, methods and all')
  assert.deepEqual(routes, [{ path: '/a' }, { path: '/b', weight: 5 }], 'defaults went into a copy of the array\'s objects')
})

test('configSchema: a mismatch fails with PLUGINKIT_ERR_PLUGIN_CONFIG naming plugin and path', async () => {
  const base = await makeTree({ ...nodeModuleLinks, 'plugins/helloworld/index.mjs': schemaPlugin })
  await bootError(base, { pluginConfig: { helloworld: { limitIp: 42 } } }, 'PLUGINKIT_ERR_PLUGIN_CONFIG', 'helloworld', 'limitIp')
  await bootError(base, { pluginConfig: { helloworld: { max: 'many' } } }, 'PLUGINKIT_ERR_PLUGIN_CONFIG', 'helloworld', 'max')
  await bootError(base, { pluginConfig: { helloworld: { db: { port: 'x' } } } }, 'PLUGINKIT_ERR_PLUGIN_CONFIG', 'helloworld', /db[./]port/)
  await bootError(base, { pluginConfig: { helloworld: 'not an object' } }, 'PLUGINKIT_ERR_PLUGIN_CONFIG', 'helloworld')
})

test('configSchema: a missing required setting fails with PLUGINKIT_ERR_PLUGIN_CONFIG naming it', async () => {
  const base = await makeTree({
    ...nodeModuleLinks,
    'plugins/needs-key/index.mjs': pluginSource(
      { name: 'needs-key', configSchema: code('Type.Object({ apiKey: Type.String() })') }, 'return {}', { header: "import { Type } from 'typebox'" })
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_PLUGIN_CONFIG', 'needs-key', 'apiKey')
  const app = await buildApp(base, { pluginConfig: { 'needs-key': { apiKey: 'k' } } }, { until: 'ready' })
  assert.deepEqual(names(app), ['needs-key'])
})

// configSchema is any JSON Schema: TypeBox 1.x (above), TypeBox 0.34 and plain objects get their defaults too.
const configPlugin = (name: string, header: string, schema: string) => pluginSource({ name, configSchema: code(schema) },
  `return { bep: { prefix: '/${name}', blueprint: async (app) => { app.get('/', async () => ctx.config) } } }`, { header })
const sinclairLink = { 'node_modules/@sinclair/typebox': { symlink: join(repoRoot, 'node_modules', '@sinclair', 'typebox') } }

test('configSchema from @sinclair/typebox 0.34: defaults are applied, values validated', async () => {
  const base = await makeTree({
    ...sinclairLink,
    'plugins/legacy/index.mjs': configPlugin('legacy', "import { Type } from '@sinclair/typebox'",
      'Type.Object({ n: Type.Integer({ default: 5 }), label: Type.Optional(Type.String()), db: Type.Object({ port: Type.Integer({ default: 5432 }) }, { default: {} }) })')
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual((await app.inject('/legacy')).json(), { n: 5, db: { port: 5432 } })
  const given = await buildApp(base, { pluginConfig: { legacy: { n: 7, label: 'x', db: {} } } }, { until: 'ready' })
  assert.deepEqual((await given.inject('/legacy')).json(), { n: 7, label: 'x', db: { port: 5432 } })
  await bootError(base, { pluginConfig: { legacy: { n: 'five' } } }, 'PLUGINKIT_ERR_PLUGIN_CONFIG', 'pluginConfig.legacy.n: must be integer')
})

test('configSchema as a plain JSON Schema object: defaults are applied, values validated', async () => {
  const base = await makeTree({
    'plugins/plain/index.mjs': configPlugin('plain', '', `{
    type: 'object',
    properties: {
      n: { type: 'integer', default: 5 },
      mode: { enum: ['fast', 'safe'], default: 'safe' },
      url: { type: 'string', format: 'uri' }
    }
  }`)
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual((await app.inject('/plain')).json(), { n: 5, mode: 'safe' })
  await bootError(base, { pluginConfig: { plain: { mode: 'slow' } } }, 'PLUGINKIT_ERR_PLUGIN_CONFIG', 'pluginConfig.plain.mode: must be one of "fast", "safe"')
  await bootError(base, { pluginConfig: { plain: { url: 'not a url' } } }, 'PLUGINKIT_ERR_PLUGIN_CONFIG', 'pluginConfig.plain.url: must match format "uri"')
  // As in Fastify's route schemas, an unknown keyword is a mistake in the schema, reported when it is compiled.
  const typo = await makeTree({ 'plugins/typo/index.mjs': configPlugin('typo', '', "{ type: 'object', requird: ['token'] }") })
  await bootError(typo, {}, 'PLUGINKIT_ERR_PLUGIN_METADATA', 'plugin "typo": configSchema: cannot be compiled: strict mode: unknown keyword: "requird"')
})

test('configSchema: every failing path is reported, not only the first', async () => {
  const base = await makeTree({
    ...nodeModuleLinks,
    'plugins/many/index.mjs': configPlugin('many', "import { Type } from 'typebox'",
      'Type.Object({ times: Type.Integer({ minimum: 1 }), nested: Type.Object({ url: Type.String() }), token: Type.String() }, { additionalProperties: false })')
  })
  const error = await bootError(base, { pluginConfig: { many: { times: 0, nested: { url: 5 }, tokne: 'x' } } }, 'PLUGINKIT_ERR_PLUGIN_CONFIG', 'plugin "many"')
  assert.equal(error.message, 'plugin "many": ' + [
    'pluginConfig.many.token: is required',
    'pluginConfig.many.tokne: is not a known key (did you mean token?)',
    'pluginConfig.many.times: must be >= 1',
    'pluginConfig.many.nested.url: must be string'
  ].join('; '))
})

test('extension point keys: a misspelt key names the one that was meant', async () => {
  const base = await makeTree({
    'plugins/camel/index.mjs': pluginSource({ name: 'camel' }, 'return { hep: { beforeRequest () {} } }'),
    'plugins/plural/index.mjs': pluginSource({ name: 'plural' }, 'return { heps: {} }')
  })
  const app = await buildApp(base, { strict: false }, { until: 'ready' })
  const messages = Object.fromEntries(app.pluginKit.failures.map((failure) => [failure.plugin, failure.error.message]))
  assert.equal(messages.camel, 'plugin "camel": hep.beforeRequest: is not a known key (did you mean before_request?)')
  assert.equal(messages.plural, 'plugin "plural": heps: is not an extension point (did you mean hep? expected one of bep, hep, vep, cvep, tep, filter, tcp, errhandler, p3, provide, decorate)')
})

test('without configSchema, ctx.config is pluginConfig[name] (or an empty object)', async () => {
  const configRoute = (name: string) => pluginSource({ name },
    `return { bep: { prefix: '/${name}', blueprint: async (app) => { app.get('/', async () => ({ config: ctx.config, name: ctx.name })) } } }`)
  const base = await makeTree({ 'plugins/given/index.mjs': configRoute('given'), 'plugins/absent/index.mjs': configRoute('absent') })
  const app = await buildApp(base, { pluginConfig: { given: { a: 1, nested: { b: [2] } } } }, { until: 'ready' })
  assert.deepEqual((await app.inject('/given')).json(), { config: { a: 1, nested: { b: [2] } }, name: 'given' })
  assert.deepEqual((await app.inject('/absent')).json(), { config: {}, name: 'absent' })
})

const badRegisters: Array<[string, string]> = [
  ['returns undefined', 'return undefined'],
  ['returns nothing', ''],
  ['returns null', 'return null'],
  ['returns a string', "return 'bep'"],
  ['returns an array', 'return [{}]'],
  ['returns a number', 'return 42'],
  ['resolves to undefined', 'return Promise.resolve(undefined)'],
  ['resolves to null', 'return Promise.resolve(null)']
]

for (const [title, body] of badRegisters) {
  test(`register ${title} -> PLUGINKIT_ERR_REGISTER`, async () => {
    const base = await makeTree({ 'plugins/subject/index.mjs': pluginSource({ name: 'subject' }, body) })
    await bootError(base, {}, 'PLUGINKIT_ERR_REGISTER', 'subject', 'register')
  })
}

test('register throwing -> PLUGINKIT_ERR_REGISTER with the thrown error as cause', async () => {
  const base = await makeTree({ 'plugins/subject/index.mjs': pluginSource({ name: 'subject' }, "throw new TypeError('register exploded')") })
  const error = await bootError(base, {}, 'PLUGINKIT_ERR_REGISTER', 'subject', 'register')
  assert.ok(error.cause instanceof TypeError)
  assert.equal(error.cause.message, 'register exploded')
})

test('register rejecting -> PLUGINKIT_ERR_REGISTER with the rejection as cause', async () => {
  const base = await makeTree({
    'plugins/subject/index.mjs': pluginSource({ name: 'subject' }, "await null; throw new RangeError('async failure')")
  })
  const error = await bootError(base, {}, 'PLUGINKIT_ERR_REGISTER', 'subject', 'register')
  assert.ok(error.cause instanceof RangeError)
  assert.equal(error.cause.message, 'async failure')
})

test('register may be async and may return an empty object; ctx carries name, dir, kit and log', async () => {
  const base = await makeTree({
    'plugins/async-one/index.mjs': pluginSource({ name: 'async-one' }, `
    await new Promise((resolve) => setImmediate(resolve))
    const seen = { name: ctx.name, dir: ctx.dir, kit: typeof ctx.kit.emitConfig, log: typeof ctx.log.info }
    return { bep: { prefix: '/async-one', blueprint: async (app) => { app.get('/', async () => seen) } } }`),
    'plugins/empty/index.mjs': pluginSource({ name: 'empty' }, 'return {}')
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['async-one', 'empty'])
  assert.deepEqual((await app.inject('/async-one')).json(), { name: 'async-one', dir: app.pluginKit.get('async-one').dir, kit: 'function', log: 'function' })
  assert.deepEqual(app.pluginKit.get('empty').extensionPoints, [])
})

const blueprint = 'blueprint: async (app) => { app.get(\'/\', async () => \'x\') }'

// [title, register's return value as JS source, mentions beyond the plugin name]
const badExtensionPoints: Array<[string, string, Array<string | RegExp>]> = [
  ['an unknown key', '{ routes: [] }', ['routes']],
  ['a misspelt key', `{ beps: { ${blueprint}, prefix: '/x' } }`, ['beps']],
  ['bep without blueprint', "{ bep: { prefix: '/x' } }", ['bep', 'blueprint']],
  ['bep blueprint not a function', "{ bep: { blueprint: 'app', prefix: '/x' } }", ['bep', 'blueprint']],
  ['bep prefix without leading slash', `{ bep: { ${blueprint}, prefix: 'x' } }`, ['bep', 'prefix']],
  ['bep prefix with a trailing slash', `{ bep: { ${blueprint}, prefix: '/x/' } }`, ['bep', 'prefix']],
  ['bep prefix with //', `{ bep: { ${blueprint}, prefix: '/a//b' } }`, ['bep', 'prefix']],
  ['bep prefix with a space', `{ bep: { ${blueprint}, prefix: '/a b' } }`, ['bep', 'prefix']],
  ['bep array with a bad entry', `{ bep: [{ ${blueprint}, prefix: '/a' }, 42] }`, ['bep']],
  ['bep a string', "{ bep: 'blueprint' }", ['bep']],
  ['hep a function', '{ hep: () => {} }', ['hep']],
  ['hep before_request not a function', "{ hep: { before_request: 'yes' } }", ['hep', 'before_request']],
  ['hep after_request not a function', '{ hep: { after_request: 1 } }', ['hep', 'after_request']],
  ['vep without handler', "{ vep: { method: 'GET', url: '/x' } }", ['vep']],
  ['vep without url', "{ vep: { method: 'GET', handler: () => 'x' } }", ['vep']],
  ['vep a string', "{ vep: '/x' }", ['vep']],
  ['cvep without prefix', '{ cvep: { controller: class {} } }', ['cvep', 'prefix']],
  ['cvep bad prefix', "{ cvep: { controller: class {}, prefix: 'c/' } }", ['cvep', 'prefix']],
  ['cvep controller a string', "{ cvep: { controller: 'C', prefix: '/c' } }", ['cvep', 'controller']],
  ['tep not an object', "{ tep: 'header' }", ['tep']],
  ['tep entry a number', '{ tep: { header: 42 } }', ['tep', 'header']],
  ['tep entry a function', '{ tep: { header: () => \'x\' } }', ['tep', 'header']],
  ['tep entry in an array of the wrong type', "{ tep: { header: ['<b>ok</b>', true] } }", ['tep', 'header']],
  ['tep entry with a non-number order', "{ tep: { header: { code: 'x', order: 'first' } } }", ['tep', 'header']],
  ['filter a string', "{ filter: 'upper' }", ['filter']],
  ['filter value not a function', "{ filter: { upper: 'x' } }", ['filter', 'upper']],
  ['filter array with a number', '{ filter: [42] }', ['filter']],
  ['tcp a string', "{ tcp: 'ctx' }", ['tcp']],
  ['errhandler bad status key', '{ errhandler: { abc: () => \'x\' } }', ['errhandler', 'abc']],
  ['errhandler out-of-range status key', '{ errhandler: { 999: () => \'x\' } }', ['errhandler', '999']],
  ['errhandler handler not a function', "{ errhandler: { 404: 'not found' } }", ['errhandler', '404']],
  ['errhandler array with a bad status', '{ errhandler: [{ error: 700, handler: () => \'x\' }] }', ['errhandler']],
  ['errhandler array without handler', '{ errhandler: [{ error: 404 }] }', ['errhandler']],
  ['errhandler a string', "{ errhandler: 'oops' }", ['errhandler']],
  ['p3 target not an object', "{ p3: { other: 'x' } }", ['p3']],
  ['p3 transform not a function', "{ p3: { other: { tcp: 'x' } } }", ['p3']]
]

for (const [title, points, mentions] of badExtensionPoints) {
  test(`extension points: ${title} -> PLUGINKIT_ERR_EXTENSION_POINT`, async () => {
    const base = await makeTree({ 'plugins/subject/index.mjs': pluginSource({ name: 'subject' }, `return ${points}`) })
    await bootError(base, {}, 'PLUGINKIT_ERR_EXTENSION_POINT', 'subject', ...mentions)
  })
}

test('extension points: every key with a well-formed value boots', async () => {
  const base = await makeTree({
    'plugins/other/index.mjs': pluginSource({ name: 'other' }, routeBody('other')),
    'plugins/subject/templates/subject/slot.html': '<i>{{ who }}</i>',
    'plugins/subject/index.mjs': pluginSource({ name: 'subject' }, `return {
      bep: [{ ${blueprint}, prefix: '/subject' }, { blueprint: async (app) => { app.get('/subject-root', async () => 'root') }, prefix: null }],
      hep: { before_request () {}, after_request () {}, teardown_request () {} },
      vep: { method: 'GET', url: '/subject-view', handler: async () => 'view' },
      cvep: { controller: class { index () { return 'index' } }, prefix: '/subject-cv' },
      tep: { header: ['<b>inline</b>', 'subject/slot.html', { code: 'c', order: 2 }, { template: 'subject/slot.html' }] },
      filter: { shout: (s) => String(s).toUpperCase() },
      tcp: { who: 'me', when: () => 'now' },
      errhandler: { 418: () => 'teapot' },
      p3: { other: { tcp: (value) => value } }
    }`)
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(app.pluginKit.get('subject').extensionPoints.toSorted(), ['bep', 'cvep', 'errhandler', 'filter', 'hep', 'p3', 'tcp', 'tep', 'vep'])
  assert.equal((await app.inject('/subject')).body, 'x')
  assert.equal((await app.inject('/subject-root')).body, 'root')
  assert.equal((await app.inject('/subject-view')).body, 'view')
  assert.equal((await app.inject('/subject-cv/')).body, 'index')
})

test('tep: a missing template file -> PLUGINKIT_ERR_TEMPLATE_NOT_FOUND naming plugin and file', async () => {
  for (const file of ['subject/missing.html', 'missing.htm', 'subject/missing.xhtml', 'missing.njk']) {
    const base = await makeTree({
      'plugins/subject/templates/subject/present.html': 'present',
      'plugins/subject/index.mjs': pluginSource({ name: 'subject' }, `return { tep: { header: ['subject/present.html', ${JSON.stringify(file)}] } }`)
    })
    await bootError(base, {}, 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND', 'subject', file)
  }
})

test('tep: a template path escaping the templates folder -> PLUGINKIT_ERR_TEMPLATE_NOT_FOUND', async () => {
  const base = await makeTree({
    'plugins/subject/secret.html': 'not a template',
    'plugins/subject/templates/subject/present.html': 'present',
    'plugins/subject/index.mjs': pluginSource({ name: 'subject' }, "return { tep: { header: { template: '../secret.html' } } }")
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND', 'subject', 'secret.html')
})

test('two plugins with the same name -> PLUGINKIT_ERR_DUPLICATE_PLUGIN naming it', async () => {
  const base = await makeTree({
    'plugins/first-copy/index.mjs': pluginSource({ name: 'twin' }, routeBody('twin')),
    'plugins/second-copy/index.mjs': pluginSource({ name: 'twin' }, routeBody('twin'))
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_DUPLICATE_PLUGIN', 'twin')
})

test('a package and a local plugin with the same name -> PLUGINKIT_ERR_DUPLICATE_PLUGIN', async () => {
  const base = await makeTree({
    'node_modules/pk-twin/package.json': JSON.stringify({ name: 'pk-twin', version: '1.0.0', type: 'module' }),
    'node_modules/pk-twin/index.js': pluginSource({ name: 'twin' }, routeBody('twin')),
    'plugins/twin/index.mjs': pluginSource({ name: 'twin' }, routeBody('twin'))
  })
  await bootError(base, { pluginPackages: ['pk-twin'] }, 'PLUGINKIT_ERR_DUPLICATE_PLUGIN', 'twin')
})

test('register is called once per plugin, including for disabled plugins', async () => {
  const counter = (name: string, state: string) => pluginSource({ name, state }, `
    globalThis.__pluginkitRegisterCalls ??= []
    globalThis.__pluginkitRegisterCalls.push(ctx.name)
    ${routeBody(name)}`)
  const base = await makeTree({ 'plugins/reg-on/index.mjs': counter('reg-on', 'enabled'), 'plugins/reg-off/index.mjs': counter('reg-off', 'disabled') })
  const app = await buildApp(base, {}, { until: 'ready' })
  const calls = (globalThis as { __pluginkitRegisterCalls?: string[] }).__pluginkitRegisterCalls
  assert.deepEqual(calls, ['reg-off', 'reg-on'])
  assert.equal((await app.inject('/reg-off')).statusCode, 404)
  await app.pluginKit.enable('reg-off')
  assert.deepEqual((await app.inject('/reg-off')).json(), { plugin: 'reg-off' })
  assert.deepEqual(calls, ['reg-off', 'reg-on'])
})
