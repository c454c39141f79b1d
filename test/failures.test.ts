// SPEC section 10: strict: false skips broken plugins (pluginKit.failures), error classes,
// causes, and loadTimeout for a hanging import or register.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { PluginKitError, type PluginKitErrorCode } from 'fastify-pluginkit'
import { buildApp, makeTree, pluginSource, routeBody, type Tree } from './helpers.ts'
import { assertKitError, bootError, names, readyError } from './helpers-loading.ts'

// folder (= plugin name where one is readable) -> [source, expected code]
const broken: Record<string, [string, PluginKitErrorCode]> = {
  'bad-syntax': ['export default {\n', 'PLUGINKIT_ERR_PLUGIN_IMPORT'],
  'bad-import-throws': ["throw new Error('import exploded')\n", 'PLUGINKIT_ERR_PLUGIN_IMPORT'],
  'bad-missing-module': ["import 'pluginkit-no-such-module'\nexport default {}\n", 'PLUGINKIT_ERR_PLUGIN_IMPORT'],
  'bad-author': [pluginSource({ name: 'bad-author', author: undefined }), 'PLUGINKIT_ERR_PLUGIN_METADATA'],
  'bad-name': [pluginSource({ name: 'bad name' }, 'return {}'), 'PLUGINKIT_ERR_PLUGIN_METADATA'],
  'bad-state': [pluginSource({ name: 'bad-state', state: 'off' }, 'return {}'), 'PLUGINKIT_ERR_PLUGIN_METADATA'],
  'bad-version': [pluginSource({ name: 'bad-version', version: 'v1.0.0' }, 'return {}'), 'PLUGINKIT_ERR_PLUGIN_VERSION'],
  'bad-app-version': [pluginSource({ name: 'bad-app-version', appVersion: '>=99.0.0' }, 'return {}'), 'PLUGINKIT_ERR_PLUGIN_VERSION'],
  'bad-fastify': [pluginSource({ name: 'bad-fastify', fastify: '3.x' }, 'return {}'), 'PLUGINKIT_ERR_PLUGIN_VERSION'],
  'bad-config': [pluginSource({ name: 'bad-config', configSchema: { type: 'object', properties: { port: { type: 'integer' } } } }, 'return {}'), 'PLUGINKIT_ERR_PLUGIN_CONFIG'],
  'bad-register-throws': [pluginSource({ name: 'bad-register-throws' }, "throw new Error('register exploded')"), 'PLUGINKIT_ERR_REGISTER'],
  'bad-register-rejects': [pluginSource({ name: 'bad-register-rejects' }, "throw new Error('rejected')", { async: true }), 'PLUGINKIT_ERR_REGISTER'],
  'bad-register-null': [pluginSource({ name: 'bad-register-null' }, 'return null'), 'PLUGINKIT_ERR_REGISTER'],
  'bad-register-string': [pluginSource({ name: 'bad-register-string' }, "return 'x'"), 'PLUGINKIT_ERR_REGISTER'],
  'bad-key': [pluginSource({ name: 'bad-key' }, 'return { views: [] }'), 'PLUGINKIT_ERR_EXTENSION_POINT'],
  'bad-prefix': [pluginSource({ name: 'bad-prefix' }, "return { bep: { prefix: 'nope/', blueprint: async () => {} } }"), 'PLUGINKIT_ERR_EXTENSION_POINT'],
  'bad-errhandler': [pluginSource({ name: 'bad-errhandler' }, "return { errhandler: { 1000: () => 'x' } }"), 'PLUGINKIT_ERR_EXTENSION_POINT'],
  'bad-template': [pluginSource({ name: 'bad-template' }, "return { tep: { header: 'bad-template/missing.html' } }"), 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND'],
  'bad-missing-dep': [pluginSource({ name: 'bad-missing-dep', dependencies: ['ghost'] }, 'return {}'), 'PLUGINKIT_ERR_DEPENDENCY'],
  'bad-range-dep': [pluginSource({ name: 'bad-range-dep', dependencies: { 'good-a': '^5.0.0' } }, 'return {}'), 'PLUGINKIT_ERR_DEPENDENCY'],
  'bad-cycle-1': [pluginSource({ name: 'bad-cycle-1', dependencies: ['bad-cycle-2'] }, 'return {}'), 'PLUGINKIT_ERR_DEPENDENCY'],
  'bad-cycle-2': [pluginSource({ name: 'bad-cycle-2', dependencies: ['bad-cycle-1'] }, 'return {}'), 'PLUGINKIT_ERR_DEPENDENCY'],
  // Depends on plugins that failed at different stages: all are skipped too.
  'dependent-of-register': [pluginSource({ name: 'dependent-of-register', dependencies: ['bad-register-throws'] }, routeBody('dependent-of-register')), 'PLUGINKIT_ERR_DEPENDENCY'],
  'dependent-of-version': [pluginSource({ name: 'dependent-of-version', dependencies: ['bad-version'] }, routeBody('dependent-of-version')), 'PLUGINKIT_ERR_DEPENDENCY'],
  'dependent-of-key': [pluginSource({ name: 'dependent-of-key', dependencies: { 'bad-key': '*' } }, routeBody('dependent-of-key')), 'PLUGINKIT_ERR_DEPENDENCY'],
  'dependent-of-dependent': [pluginSource({ name: 'dependent-of-dependent', dependencies: ['dependent-of-register'] }, routeBody('dependent-of-dependent')), 'PLUGINKIT_ERR_DEPENDENCY']
}

function brokenTree (): Tree {
  const tree: Tree = {
    'plugins/good-a/index.mjs': pluginSource({ name: 'good-a' }, routeBody('good-a')),
    'plugins/good-b/index.mjs': pluginSource({ name: 'good-b', dependencies: { 'good-a': '^1.0.0' } }, routeBody('good-b')),
    'plugins/zz-good/index.cjs': pluginSource({ name: 'zz-good' }, routeBody('zz-good'), { format: 'cjs' })
  }
  for (const [folder, [source]] of Object.entries(broken)) tree[`plugins/${folder}/index.mjs`] = source
  return tree
}

const pluginConfig = { 'bad-config': { port: 'eighty' } }

test('strict (default): the first broken plugin rejects ready()', async () => {
  const base = await makeTree(brokenTree())
  const error = await readyError(buildApp(base, { pluginConfig }, { until: 'none' }))
  assert.ok(error instanceof PluginKitError, String(error))
  const culprit = Object.entries(broken).find(([folder, [, code]]) => error.code === code && error.message.includes(folder))
  assert.ok(culprit !== undefined, `the error names one broken plugin with its code: ${error.code} ${error.message}`)
})

test('strict: false skips every kind of broken plugin, lists it in failures, and the rest keeps working', async () => {
  const base = await makeTree(brokenTree())
  const app = await buildApp(base, { strict: false, pluginConfig }, { until: 'ready' })
  assert.deepEqual(names(app), ['good-a', 'good-b', 'zz-good'])
  for (const name of names(app)) assert.deepEqual((await app.inject(`/${name}`)).json(), { plugin: name })
  assert.equal((await app.inject('/')).body, 'hello world')

  const failures = app.pluginKit.failures
  assert.equal(failures.length, Object.keys(broken).length, failures.map((failure) => failure.plugin).join(', '))
  for (const [folder, [, code]] of Object.entries(broken)) {
    const dir = join(base, 'plugins', folder)
    const failure = failures.find((entry) => entry.dir === dir)
    assert.ok(failure !== undefined, `${folder} should be listed in failures`)
    assert.equal(typeof failure.plugin, 'string')
    assert.ok(failure.plugin.length > 0)
    if (folder !== 'bad-name') assert.equal(failure.plugin, folder, `a failure names the plugin (its name, or its folder when the name is unknown): ${failure.plugin}`)
    assertKitError(failure.error, code, folder === 'bad-name' ? 'bad-name' : folder)
  }
  // Skipped plugins are not in `plugins` and their routes do not exist.
  for (const skipped of ['dependent-of-register', 'dependent-of-version', 'dependent-of-key', 'dependent-of-dependent']) {
    assert.throws(() => app.pluginKit.get(skipped), (error: unknown) => error instanceof PluginKitError && error.code === 'PLUGINKIT_ERR_NOT_FOUND')
    assert.equal((await app.inject(`/${skipped}`)).statusCode, 404)
  }
})

test('strict: false: failures carry the underlying cause', async () => {
  const base = await makeTree(brokenTree())
  const app = await buildApp(base, { strict: false, pluginConfig }, { until: 'ready' })
  const byDir = (folder: string) => {
    const failure = app.pluginKit.failures.find((entry) => entry.dir === join(base, 'plugins', folder))
    assert.ok(failure !== undefined, folder)
    return failure.error
  }
  const syntax = byDir('bad-syntax')
  assert.ok(syntax.cause instanceof SyntaxError)
  const thrown = byDir('bad-import-throws')
  assert.ok(thrown.cause instanceof Error)
  assert.equal(thrown.cause.message, 'import exploded')
  const registerError = byDir('bad-register-throws')
  assert.ok(registerError.cause instanceof Error)
  assert.equal(registerError.cause.message, 'register exploded')
  const rejected = byDir('bad-register-rejects')
  assert.ok(rejected.cause instanceof Error)
  assert.equal(rejected.cause.message, 'rejected')
  assert.match(byDir('bad-config').message, /port/)
  assert.match(byDir('bad-cycle-1').message, /bad-cycle-1 -> bad-cycle-2 -> bad-cycle-1|bad-cycle-2 -> bad-cycle-1 -> bad-cycle-2/)
  assert.match(byDir('dependent-of-register').message, /bad-register-throws/)
  for (const failure of app.pluginKit.failures) {
    assert.ok(failure.error instanceof PluginKitError)
    assert.ok(failure.error instanceof Error)
    assert.match(failure.error.code, /^PLUGINKIT_ERR_[A-Z_]+$/)
  }
})

test('strict: false: a broken or unresolvable package is listed under its package name', async () => {
  const base = await makeTree({
    'node_modules/pk-broken/package.json': JSON.stringify({ name: 'pk-broken', version: '1.0.0' }),
    'node_modules/pk-broken/index.js': "throw new Error('pk-broken exploded')\n",
    'node_modules/pk-good/package.json': JSON.stringify({ name: 'pk-good', version: '1.0.0', type: 'module' }),
    'node_modules/pk-good/index.js': pluginSource({ name: 'pk-good' }, routeBody('pk-good')),
    'plugins/local/index.mjs': pluginSource({ name: 'local' }, routeBody('local'))
  })
  const app = await buildApp(base, { strict: false, pluginPackages: ['pk-missing', 'pk-broken', 'pk-good'] }, { until: 'ready' })
  assert.deepEqual(names(app), ['pk-good', 'local'])
  assert.deepEqual((await app.inject('/pk-good')).json(), { plugin: 'pk-good' })
  const failures = app.pluginKit.failures
  assert.deepEqual(failures.map((failure) => failure.plugin), ['pk-missing', 'pk-broken'])
  assertKitError(failures[0]?.error, 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'pk-missing')
  const brokenPackage = assertKitError(failures[1]?.error, 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'pk-broken')
  assert.ok(brokenPackage.cause instanceof Error)
  assert.equal(failures[1]?.dir, join(base, 'node_modules', 'pk-broken'))
})

test('strict: false: of two plugins with the same name one is skipped as a duplicate', async () => {
  const base = await makeTree({
    'plugins/copy-1/index.mjs': pluginSource({ name: 'twin' }, routeBody('twin')),
    'plugins/copy-2/index.mjs': pluginSource({ name: 'twin' }, routeBody('twin')),
    'plugins/other/index.mjs': pluginSource({ name: 'other' }, routeBody('other'))
  })
  const app = await buildApp(base, { strict: false }, { until: 'ready' })
  // The first folder in load order keeps the name; the second is the duplicate.
  assert.deepEqual(names(app), ['twin', 'other'])
  assert.equal(app.pluginKit.get('twin').dir, join(base, 'plugins', 'copy-1'))
  const duplicates = app.pluginKit.failures.filter((failure) => failure.error.code === 'PLUGINKIT_ERR_DUPLICATE_PLUGIN')
  assert.deepEqual(duplicates.map((failure) => failure.dir), [join(base, 'plugins', 'copy-2')])
  for (const duplicate of duplicates) {
    assert.equal(duplicate.plugin, 'twin')
    assertKitError(duplicate.error, 'PLUGINKIT_ERR_DUPLICATE_PLUGIN', 'twin')
  }
  assert.deepEqual((await app.inject('/other')).json(), { plugin: 'other' })
})

test('strict: false with nothing broken: failures is empty', async () => {
  const base = await makeTree({ 'plugins/fine/index.mjs': pluginSource({ name: 'fine' }, routeBody('fine')) })
  const app = await buildApp(base, { strict: false }, { until: 'ready' })
  assert.deepEqual(app.pluginKit.failures, [])
  assert.deepEqual(names(app), ['fine'])
})

const hanging: Tree = {
  'plugins/hang-import/index.mjs': pluginSource({ name: 'hang-import' }, null, { header: 'await new Promise(() => {})' }),
  'plugins/hang-register/index.mjs': pluginSource({ name: 'hang-register' }, 'return new Promise(() => {})'),
  'plugins/quick/index.mjs': pluginSource({ name: 'quick' }, routeBody('quick'))
}

test('loadTimeout: a hanging import fails boot with PLUGINKIT_ERR_PLUGIN_IMPORT mentioning loadTimeout', async () => {
  const base = await makeTree({ 'plugins/hang-import/index.mjs': hanging['plugins/hang-import/index.mjs'] as string })
  await bootError(base, { loadTimeout: 300 }, 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'hang-import', 'loadTimeout')
})

test('loadTimeout by default (0.8 × pluginTimeout): a hanging import fails with PLUGINKIT_ERR_PLUGIN_IMPORT before Fastify\'s own timeout', async () => {
  const base = await makeTree({ 'plugins/hang-import/index.mjs': hanging['plugins/hang-import/index.mjs'] as string })
  const app = buildApp(base, {}, { until: 'none', fastify: { pluginTimeout: 1000 } })
  // 800 ms less what the kit spent before importing (under tsx, loading the checkers' compiler).
  const error = assertKitError(await readyError(app), 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'hang-import', 'within loadTimeout (')
  const ms = Number(/within loadTimeout \((\d+) ms\)/.exec(error.message)?.[1])
  assert.ok(ms >= 100 && ms <= 800, error.message)
})

test('loadTimeout: a register that never resolves fails boot with PLUGINKIT_ERR_PLUGIN_IMPORT mentioning loadTimeout', async () => {
  const base = await makeTree({ 'plugins/hang-register/index.mjs': hanging['plugins/hang-register/index.mjs'] as string })
  await bootError(base, { loadTimeout: 300 }, 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'hang-register', 'loadTimeout')
})

test('loadTimeout with strict: false: hanging plugins are skipped, the others load', async () => {
  const base = await makeTree(hanging)
  const app = await buildApp(base, { loadTimeout: 2000, strict: false }, { until: 'ready' })
  assert.deepEqual(names(app), ['quick'])
  assert.deepEqual((await app.inject('/quick')).json(), { plugin: 'quick' })
  const failures = app.pluginKit.failures
  assert.deepEqual(failures.map((failure) => failure.plugin).toSorted(), ['hang-import', 'hang-register'])
  for (const failure of failures) assertKitError(failure.error, 'PLUGINKIT_ERR_PLUGIN_IMPORT', failure.plugin, 'loadTimeout')
})

test('errors are PluginKitError instances with a stable code and the name PluginKitError', async () => {
  const base = await makeTree({ 'plugins/x/index.mjs': pluginSource({ name: 'x' }, "throw new Error('boom')") })
  const error = await bootError(base, {}, 'PLUGINKIT_ERR_REGISTER', 'x')
  assert.ok(error instanceof Error)
  assert.equal(error.name, 'PluginKitError')
  assert.equal(typeof error.stack, 'string')
  assert.ok(error.cause instanceof Error)
  assert.equal(error.cause.message, 'boom')
})
