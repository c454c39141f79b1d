import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { PluginInfo } from 'fastify-pluginkit'
import { buildApp, makeTree, pluginSource, type Tree } from './helpers.ts'
import { kitErrorWith } from './helpers-loading.ts'

const INFO_KEYS = ['name', 'version', 'author', 'description', 'url', 'license', 'licenseFile', 'readmeFile', 'state', 'source',
  'packageName', 'dir', 'dependencies', 'extensionPoints', 'loadTimeMs', 'quarantined', 'stats']

const tree: Tree = {
  // A package plugin, resolved from pluginsBase like a dependency of the host.
  'node_modules/pk-demo-package/package.json': JSON.stringify({ name: 'pk-demo-package', version: '9.9.9', type: 'module', exports: './main.js' }),
  'node_modules/pk-demo-package/main.js': pluginSource({ name: 'from-package', version: '2.1.0-beta.1+build5', author: 'pkg author' }, `
    return { vep: { method: 'GET', url: '/from-package', handler: async () => 'package route' } }`),
  // `alpha` depends on `zulu`, so zulu loads first although alpha sorts first.
  'plugins/alpha/index.mjs': pluginSource({
    name: 'alpha',
    version: '1.2.3',
    author: 'Alpha Author',
    description: 'The first plugin',
    url: 'https://example.org/alpha',
    license: 'MIT',
    licenseFile: 'LICENSE',
    readmeFile: 'README.md',
    dependencies: { zulu: '^3.0.0' }
  }, `
    return {
      bep: { prefix: '/alpha', blueprint: async (app) => { app.get('/', async () => 'alpha') } },
      vep: { method: 'GET', url: '/alpha-route', handler: async () => 'alpha route' },
      cvep: { prefix: '/alpha-class', controller: { index () { return 'alpha class' } } },
      hep: { before_request: () => undefined }
    }`),
  'plugins/mike/index.mjs': pluginSource({ name: 'mike', dependencies: ['zulu'], state: 'disabled' }, `
    return { bep: { prefix: '/mike', blueprint: async (app) => { app.get('/', async () => 'mike') } } }`),
  'plugins/zulu/index.mjs': pluginSource({ name: 'zulu', version: '3.4.5', author: 'Zulu' }, 'return {}')
}

test('plugins: load order and PluginInfo fields', async () => {
  const base = await makeTree(tree)
  const app = await buildApp(base, { pluginPackages: ['pk-demo-package'] })
  await app.ready()
  const plugins = app.pluginKit.plugins

  assert.deepEqual(plugins.map((plugin) => plugin.name), ['from-package', 'zulu', 'alpha', 'mike'])
  for (const info of plugins) {
    for (const key of Object.keys(info)) assert.ok(INFO_KEYS.includes(key), `unexpected PluginInfo key ${key}`)
    assert.equal(typeof info.loadTimeMs, 'number')
    assert.ok(Number.isFinite(info.loadTimeMs) && info.loadTimeMs >= 0)
    assert.deepEqual(info.stats, { requests: 0, hookCalls: 0, hookErrors: 0, meanHookMs: 0 })
    assert.equal(info.quarantined, undefined)
  }

  const [pkg, zulu, alpha, mike] = plugins as [PluginInfo, PluginInfo, PluginInfo, PluginInfo]
  assert.deepEqual({ ...pkg, loadTimeMs: 0 }, {
    name: 'from-package',
    version: '2.1.0-beta.1+build5',
    author: 'pkg author',
    state: 'enabled',
    source: 'package',
    packageName: 'pk-demo-package',
    dir: join(base, 'node_modules', 'pk-demo-package'),
    dependencies: {},
    extensionPoints: ['vep'],
    loadTimeMs: 0,
    stats: { requests: 0, hookCalls: 0, hookErrors: 0, meanHookMs: 0 }
  })

  assert.deepEqual({ ...alpha, loadTimeMs: 0, extensionPoints: [...alpha.extensionPoints].sort() }, {
    name: 'alpha',
    version: '1.2.3',
    author: 'Alpha Author',
    description: 'The first plugin',
    url: 'https://example.org/alpha',
    license: 'MIT',
    licenseFile: 'LICENSE',
    readmeFile: 'README.md',
    state: 'enabled',
    source: 'local',
    dir: join(base, 'plugins', 'alpha'),
    dependencies: { zulu: '^3.0.0' },
    extensionPoints: ['bep', 'cvep', 'hep', 'vep'],
    loadTimeMs: 0,
    stats: { requests: 0, hookCalls: 0, hookErrors: 0, meanHookMs: 0 }
  })

  assert.equal(zulu.source, 'local')
  assert.equal(zulu.packageName, undefined)
  assert.equal(zulu.description, undefined)
  assert.deepEqual(zulu.extensionPoints, [])
  assert.deepEqual(zulu.dependencies, {})
  assert.equal(zulu.dir, join(base, 'plugins', 'zulu'))

  assert.equal(mike.state, 'disabled')
  assert.deepEqual(Object.keys(mike.dependencies), ['zulu'], 'names-only dependencies become a record')
  assert.equal(typeof mike.dependencies.zulu, 'string')
})

test('enabledPlugins, get, enable and disable', async () => {
  const base = await makeTree(tree)
  const app = await buildApp(base, { pluginPackages: ['pk-demo-package'] })
  await app.ready()

  assert.deepEqual(app.pluginKit.enabledPlugins.map((plugin) => plugin.name), ['from-package', 'zulu', 'alpha'])
  assert.deepEqual(app.pluginKit.get('alpha'), app.pluginKit.plugins[2])
  assert.throws(() => app.pluginKit.get('ghost'), kitErrorWith('PLUGINKIT_ERR_NOT_FOUND', 'ghost'))

  const enabled = await app.pluginKit.enable('mike')
  assert.deepEqual({ ...enabled, loadTimeMs: 0 }, { ...app.pluginKit.get('mike'), loadTimeMs: 0 })
  assert.equal(enabled.state, 'enabled')
  assert.equal(enabled.name, 'mike')
  assert.deepEqual(app.pluginKit.enabledPlugins.map((plugin) => plugin.name), ['from-package', 'zulu', 'alpha', 'mike'])

  const disabled = await app.pluginKit.disable('from-package')
  assert.equal(disabled.name, 'from-package')
  assert.equal(disabled.state, 'disabled')
  assert.equal(disabled.source, 'package')
  assert.deepEqual(app.pluginKit.enabledPlugins.map((plugin) => plugin.name), ['zulu', 'alpha', 'mike'])
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => plugin.name), ['from-package', 'zulu', 'alpha', 'mike'], 'plugins still lists every plugin')
  assert.equal((await app.inject('/from-package')).statusCode, 404)
})

test('stats.requests counts requests answered by the plugin\'s routes', async () => {
  const base = await makeTree(tree)
  const app = await buildApp(base, { pluginPackages: ['pk-demo-package'] })
  await app.ready()

  for (const url of ['/alpha/', '/alpha-route', '/alpha-class/', '/alpha/']) {
    assert.equal((await app.inject(url)).statusCode, 200, url)
  }
  assert.equal((await app.inject('/from-package')).body, 'package route')
  assert.equal((await app.inject('/')).body, 'hello world')
  assert.equal((await app.inject('/unknown')).statusCode, 404)

  assert.equal(app.pluginKit.get('alpha').stats.requests, 4)
  assert.equal(app.pluginKit.get('from-package').stats.requests, 1)
  assert.equal(app.pluginKit.get('zulu').stats.requests, 0)
  assert.equal(app.pluginKit.get('mike').stats.requests, 0)

  // Requests of a disabled plugin are answered by the not-found handling, not by its routes.
  assert.equal((await app.inject('/mike/')).statusCode, 404)
  assert.equal(app.pluginKit.get('mike').stats.requests, 0)

  // Hooks are counted separately: alpha's before_request ran for every request above.
  assert.ok(app.pluginKit.get('alpha').stats.hookCalls >= 8)
})

test('stats.requests: a route nested in another plugin\'s blueprint counts for the plugin that declared it', async () => {
  const base = await makeTree({
    'plugins/adder/index.mjs': pluginSource({ name: 'adder' }, `
      return {
        vep: { blueprint: 'owner', method: 'GET', url: '/added', handler: async () => 'added' },
        bep: { parent: 'owner', prefix: '/child', blueprint: async (app) => { app.get('/', async () => 'child') } }
      }`),
    'plugins/owner/index.mjs': pluginSource({ name: 'owner' }, `
      return { bep: { prefix: '/owner', blueprint: async (app) => { app.get('/', async () => 'owner index') } } }`)
  })
  const app = await buildApp(base)
  await app.ready()
  assert.equal((await app.inject('/owner/added')).body, 'added')
  assert.equal((await app.inject('/owner/child/')).body, 'child')
  assert.equal(app.pluginKit.get('adder').stats.requests, 2)
  assert.equal(app.pluginKit.get('owner').stats.requests, 0, 'owner\'s routes answered nothing')
  assert.equal((await app.inject('/owner/')).body, 'owner index')
  assert.equal(app.pluginKit.get('owner').stats.requests, 1)
  assert.equal(app.pluginKit.get('adder').stats.requests, 2)
})
