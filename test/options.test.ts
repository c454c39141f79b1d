// SPEC section 2: registering the kit, option validation, plugins folder, default state file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { isAbsolute, join, relative } from 'node:path'
import { MemoryStore, type StateStore } from 'fastify-pluginkit'
import { buildApp, makeTree, pluginSource, routeBody } from './helpers.ts'
import { bootError, names } from './helpers-loading.ts'

test('every option is accepted and takes effect', async () => {
  const base = await makeTree({
    'node_modules/pk-opt/package.json': JSON.stringify({ name: 'pk-opt', version: '1.0.0', main: 'index.js' }),
    'node_modules/pk-opt/index.js': pluginSource({ name: 'pkopt' }, 'return {}', { format: 'cjs' }),
    'ext/hello/index.mjs': pluginSource({ name: 'hello' }, `return { bep: { prefix: '/hello', blueprint: async (app) => {
      app.get('/', async () => ({ config: ctx.config, whoami: ctx.kit.emitConfig('whoami') }))
    } } }`),
    'ext/hello/static/site.css': 'body { color: red }',
    'views/page.njk': 'page'
  })
  let loads = 0
  const store: StateStore = {
    async load () { loads++; return {} },
    async save () {}
  }
  const app = await buildApp(base, {
    pluginsFolder: 'ext',
    pluginPackages: ['pk-opt'],
    staticUrlPath: '/static-files',
    view: { templates: 'views', options: { autoescape: true } },
    config: { whoami: 'demo' },
    pluginConfig: { hello: { limitIp: '127.0.0.1' } },
    store,
    strict: true,
    loadTimeout: 5000,
    quarantine: { maxErrors: 20, windowMs: 60000 },
    admin: { prefix: '/kit-admin', authorize: (request: { headers: Record<string, unknown> }) => request.headers['x-admin'] === 's3cret' }
  }, { until: 'ready' })
  assert.deepEqual(names(app), ['pkopt', 'hello'])
  assert.equal(loads, 1)
  assert.deepEqual((await app.inject('/hello')).json(), { config: { limitIp: '127.0.0.1' }, whoami: 'demo' })
  const asset = await app.inject('/static-files/hello/site.css')
  assert.equal(asset.statusCode, 200)
  assert.equal(asset.body, 'body { color: red }')
  assert.equal((await app.inject('/assets/hello/site.css')).statusCode, 404)
  assert.equal((await app.inject('/kit-admin/api/plugins')).statusCode, 401)
  const listed = await app.inject({ url: '/kit-admin/api/plugins', headers: { 'x-admin': 's3cret' } })
  assert.equal(listed.statusCode, 200)
  assert.deepEqual(listed.json().plugins.map((plugin: { name: string }) => plugin.name), ['pkopt', 'hello'])
})

test('store accepts "memory", { file } and a StateStore instance', async () => {
  const base = await makeTree({ 'plugins/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')) })
  for (const store of ['memory', { file: 'state/kit.json' }, new MemoryStore()]) {
    const app = await buildApp(base, { store }, { until: 'ready' })
    assert.deepEqual(names(app), ['one'])
    await app.pluginKit.disable('one')
    assert.equal((await app.inject('/one')).statusCode, 404)
    await app.close()
  }
  // { file } is relative to pluginsBase.
  assert.deepEqual(JSON.parse(await readFile(join(base, 'state/kit.json'), 'utf8')), { one: 'disabled' })
})

const badPrefixes = ['assets', '/assets/', '/', '/a//b', '//assets', '/my assets', '/tab\tbed', '']

for (const value of badPrefixes) {
  test(`staticUrlPath ${JSON.stringify(value)} is an invalid option`, async () => {
    const base = await makeTree({ 'plugins/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')) })
    await bootError(base, { staticUrlPath: value }, 'PLUGINKIT_ERR_INVALID_OPTION', 'staticUrlPath')
  })
  test(`admin.prefix ${JSON.stringify(value)} is an invalid option`, async () => {
    const base = await makeTree({ 'plugins/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')) })
    await bootError(base, { admin: { prefix: value, authorize: () => true } }, 'PLUGINKIT_ERR_INVALID_OPTION', 'prefix')
  })
}

const validStore = { load: async () => ({}), save: async () => {} }

const badOptions: Array<[string, Record<string, unknown>, string]> = [
  ['pluginPackages as a string', { pluginPackages: 'pk-one' }, 'pluginPackages'],
  ['pluginPackages with a number', { pluginPackages: ['pk-one', 42] }, 'pluginPackages'],
  ['pluginPackages as an object', { pluginPackages: { 'pk-one': true } }, 'pluginPackages'],
  ['store as an empty object', { store: {} }, 'store'],
  ['store without save', { store: { load: validStore.load } }, 'store'],
  ['store without load', { store: { save: validStore.save } }, 'store'],
  ['store with non-function load and save', { store: { load: {}, save: 'yes' } }, 'store'],
  ['store as an unknown string', { store: 'redis' }, 'store'],
  ['store as a number', { store: 42 }, 'store'],
  ['admin without authorize', { admin: { prefix: '/pluginkit' } }, 'authorize'],
  ['admin as an empty object', { admin: {} }, 'authorize'],
  ['admin.authorize not a function', { admin: { authorize: 'yes' } }, 'authorize'],
  ['an unknown option key', { pluginFolder: 'plugins' }, 'pluginFolder'],
  ['another unknown option key', { templates: 'views' }, 'templates'],
  ['loadTimeout zero', { loadTimeout: 0 }, 'loadTimeout'],
  ['loadTimeout negative', { loadTimeout: -100 }, 'loadTimeout'],
  ['loadTimeout fractional', { loadTimeout: 1.5 }, 'loadTimeout'],
  ['loadTimeout a string', { loadTimeout: '1000' }, 'loadTimeout'],
  ['loadTimeout infinite', { loadTimeout: Infinity }, 'loadTimeout'],
  ['quarantine a boolean', { quarantine: true }, 'quarantine'],
  ['quarantine without windowMs', { quarantine: { maxErrors: 5 } }, 'quarantine'],
  ['quarantine maxErrors zero', { quarantine: { maxErrors: 0, windowMs: 1000 } }, 'quarantine'],
  ['quarantine windowMs negative', { quarantine: { maxErrors: 5, windowMs: -1 } }, 'quarantine'],
  ['quarantine maxErrors a string', { quarantine: { maxErrors: '5', windowMs: 1000 } }, 'quarantine'],
  ['strict a string', { strict: 'no' }, 'strict'],
  ['pluginsBase a number', { pluginsBase: 42 }, 'pluginsBase'],
  ['pluginsFolder a number', { pluginsFolder: 42 }, 'pluginsFolder'],
  ['pluginsFolder empty', { pluginsFolder: '' }, 'pluginsFolder'],
  ['config a string', { config: 'whoami' }, 'config'],
  ['pluginConfig an array', { pluginConfig: ['x'] }, 'pluginConfig'],
  ['view a string', { view: 'templates' }, 'view'],
  ['view.templates a number', { view: { templates: 5 } }, 'templates']
]

for (const [title, options, option] of badOptions) {
  test(`invalid option: ${title}`, async () => {
    const base = await makeTree({ 'plugins/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')) })
    const error = await bootError(base, options, 'PLUGINKIT_ERR_INVALID_OPTION', option)
    assert.equal(error.name, 'PluginKitError')
  })
}

test('an explicit pluginsFolder that does not exist fails boot with PLUGINKIT_ERR_PLUGINS_FOLDER', async () => {
  const base = await makeTree({ 'plugins/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')) })
  await bootError(base, { pluginsFolder: 'missing' }, 'PLUGINKIT_ERR_PLUGINS_FOLDER', 'missing')
  await bootError(base, { pluginsFolder: join(base, 'also-missing') }, 'PLUGINKIT_ERR_PLUGINS_FOLDER', 'also-missing')
})

test('an explicit pluginsFolder that is a file fails boot with PLUGINKIT_ERR_PLUGINS_FOLDER', async () => {
  const base = await makeTree({ 'not-a-folder': 'just a file' })
  await bootError(base, { pluginsFolder: 'not-a-folder' }, 'PLUGINKIT_ERR_PLUGINS_FOLDER', 'not-a-folder')
})

test('an explicit pluginsFolder named "plugins" must exist too', async () => {
  const base = await makeTree({ 'README.md': 'no plugins here' })
  await bootError(base, { pluginsFolder: 'plugins' }, 'PLUGINKIT_ERR_PLUGINS_FOLDER', 'plugins')
})

test('the default plugins folder may be absent: the app boots with no plugins', async () => {
  const base = await makeTree({ 'README.md': 'no plugins here' })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(app.pluginKit.plugins, [])
  assert.deepEqual(app.pluginKit.failures, [])
  const home = await app.inject('/')
  assert.equal(home.statusCode, 200)
  assert.equal(home.body, 'hello world')
})

test('the default plugins folder is <pluginsBase>/plugins', async () => {
  const base = await makeTree({ 'plugins/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')), 'other/two/index.mjs': pluginSource({ name: 'two' }, routeBody('two')) })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['one'])
  assert.equal(app.pluginKit.get('one').dir, join(base, 'plugins', 'one'))
  assert.deepEqual((await app.inject('/one')).json(), { plugin: 'one' })
})

test('pluginsFolder relative to pluginsBase', async () => {
  const base = await makeTree({ 'plugins/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')), 'deep/er/two/index.mjs': pluginSource({ name: 'two' }, routeBody('two')) })
  const app = await buildApp(base, { pluginsFolder: 'deep/er' }, { until: 'ready' })
  assert.deepEqual(names(app), ['two'])
  assert.equal(app.pluginKit.get('two').dir, join(base, 'deep', 'er', 'two'))
  assert.deepEqual((await app.inject('/two')).json(), { plugin: 'two' })
  assert.equal((await app.inject('/one')).statusCode, 404)
})

test('pluginsFolder absolute, outside pluginsBase', async () => {
  const elsewhere = await makeTree({ 'three/index.mjs': pluginSource({ name: 'three' }, routeBody('three')) })
  const base = await makeTree({ 'plugins/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')) })
  const app = await buildApp(base, { pluginsFolder: elsewhere }, { until: 'ready' })
  assert.deepEqual(names(app), ['three'])
  assert.equal(app.pluginKit.get('three').dir, join(elsewhere, 'three'))
  assert.deepEqual((await app.inject('/three')).json(), { plugin: 'three' })
})

test('pluginsBase is relative to the working directory when relative', async () => {
  const base = await makeTree({ 'plugins/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')) })
  const relativeBase = relative(process.cwd(), base)
  assert.equal(isAbsolute(relativeBase), false)
  const app = await buildApp(relativeBase, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['one'])
  assert.equal(app.pluginKit.get('one').dir, join(base, 'plugins', 'one'))
})

test('booting never writes the default state file; enable/disable do', async () => {
  const base = await makeTree({
    'plugins/on/index.mjs': pluginSource({ name: 'on' }, routeBody('on')),
    'plugins/off/index.mjs': pluginSource({ name: 'off', state: 'disabled' }, routeBody('off'))
  })
  const statePath = join(base, '.pluginkit-state.json')
  const app = await buildApp(base, { store: undefined }, { until: 'ready' })
  assert.deepEqual(names(app), ['off', 'on'])
  assert.equal(app.pluginKit.get('off').state, 'disabled')
  assert.equal((await app.inject('/on')).statusCode, 200)
  assert.equal((await app.inject('/off')).statusCode, 404)
  assert.equal(existsSync(statePath), false, 'boot must not write the state file')
  await app.pluginKit.enable('off')
  assert.deepEqual(JSON.parse(await readFile(statePath, 'utf8')), { off: 'enabled' })
  assert.equal((await app.inject('/off')).statusCode, 200)
})

test('booting leaves an existing state file untouched and its saved state wins over the manifest', async () => {
  const saved = JSON.stringify({ off: 'enabled', on: 'disabled', gone: 'disabled' }, null, 1)
  const base = await makeTree({
    'plugins/on/index.mjs': pluginSource({ name: 'on' }, routeBody('on')),
    'plugins/off/index.mjs': pluginSource({ name: 'off', state: 'disabled' }, routeBody('off')),
    '.pluginkit-state.json': saved
  })
  const app = await buildApp(base, { store: undefined }, { until: 'ready' })
  assert.equal(app.pluginKit.get('off').state, 'enabled')
  assert.equal(app.pluginKit.get('on').state, 'disabled')
  assert.equal((await app.inject('/off')).statusCode, 200)
  assert.equal((await app.inject('/on')).statusCode, 404)
  assert.equal(await readFile(join(base, '.pluginkit-state.json'), 'utf8'), saved)
})

test('an unknown option key names the option that was meant, or lists the known ones', async () => {
  const base = await makeTree({ 'plugins/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')) })
  const typo = await bootError(base, { pluginFolder: 'plugins' }, 'PLUGINKIT_ERR_INVALID_OPTION')
  assert.equal(typo.message, 'option pluginFolder: is not a known key (did you mean pluginsFolder?)')
  const nested = await bootError(base, { view: { templats: 'views' } }, 'PLUGINKIT_ERR_INVALID_OPTION')
  assert.equal(nested.message, 'option view.templats: is not a known key (did you mean templates?)')
  const unrelated = await bootError(base, { view: { engine: 'ejs' } }, 'PLUGINKIT_ERR_INVALID_OPTION')
  assert.equal(unrelated.message, 'option view.engine: is not a known key (expected one of templates, options)')
})

test('a pluginConfig key that names no plugin is logged as a warning naming the closest plugin', async () => {
  const base = await makeTree({
    'plugins/helloworld/index.mjs': pluginSource({ name: 'helloworld' }, routeBody('helloworld')),
    'plugins/other/index.mjs': pluginSource({ name: 'other' }, routeBody('other'))
  })
  const lines: Array<{ level: number, msg: string }> = []
  const logger = { level: 'warn', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } }
  await buildApp(base, { pluginConfig: { helloword: { limitIp: '127.0.0.1' }, other: {}, zzz: {} } }, { fastify: { logger }, until: 'ready' })
  assert.deepEqual(lines.map(({ level, msg }) => [level, msg]), [
    [40, 'pluginConfig.helloword: there is no plugin named "helloword" (did you mean "helloworld"?); this config is not used'],
    [40, 'pluginConfig.zzz: there is no plugin named "zzz"; this config is not used']
  ])
})
