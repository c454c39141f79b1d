import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { test } from 'node:test'
import { PluginKitError } from 'fastify-pluginkit'
import { buildHost } from 'fastify-pluginkit/testing'
import { pluginSource, makeTree } from './helpers.ts'

const blueprint = (name: string) => `return { bep: { prefix: '/${name}', blueprint: async (app) => {
  app.get('/', async () => ({ plugin: ctx.name, config: ctx.config }))
} } }`

test('hosts exactly the given plugin folders, from different parents, ready for inject', async (t) => {
  const base = await makeTree({
    'one/plugins/alpha/index.mjs': pluginSource({ name: 'alpha', version: '1.0.0', author: 'me' }, blueprint('alpha')),
    'one/plugins/sibling/index.mjs': pluginSource({ name: 'sibling', version: '1.0.0', author: 'me' }, blueprint('sibling')),
    'two/beta/index.mjs': pluginSource({ name: 'beta', version: '2.0.0', author: 'me', dependencies: ['alpha'] }, blueprint('beta'))
  })
  const app = await buildHost({
    // Relative to process.cwd(), or absolute.
    plugins: [join(base, 'two', 'beta'), relative(process.cwd(), join(base, 'one', 'plugins', 'alpha'))],
    pluginConfig: { beta: { colour: 'blue' } }
  })
  t.after(() => app.close())

  assert.deepEqual(app.pluginKit.plugins.map((plugin) => plugin.name), ['alpha', 'beta'])
  assert.deepEqual((await app.inject('/alpha')).json(), { plugin: 'alpha', config: {} })
  assert.deepEqual((await app.inject('/beta')).json(), { plugin: 'beta', config: { colour: 'blue' } })
  assert.equal((await app.inject('/sibling')).statusCode, 404)
})

test('the memory store is the default: enable/disable write no state file', async (t) => {
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', version: '1.0.0', author: 'me' }, blueprint('alpha'))
  })
  const app = await buildHost({ plugins: [join(base, 'plugins', 'alpha')], pluginsBase: base })
  t.after(() => app.close())
  await app.pluginKit.disable('alpha')
  assert.equal((await app.inject('/alpha')).statusCode, 404)
  await app.pluginKit.enable('alpha')
  assert.equal((await app.inject('/alpha')).statusCode, 200)
  assert.deepEqual(await readdir(base), ['plugins'])
})

test('view, config, packages, Fastify options and a setup callback reach the app', async (t) => {
  const base = await makeTree({
    'host/templates/page.html': '<main>{{ emit_tep("footer") }}|{{ emit_config("site") }}</main>',
    'host/node_modules/footer-plugin/package.json':
      JSON.stringify({ name: 'footer-plugin', version: '1.0.0', type: 'module', main: 'index.js' }),
    'host/node_modules/footer-plugin/index.js':
      pluginSource({ name: 'footer', version: '1.0.0', author: 'npm' }, "return { tep: { footer: 'footer/part.html' } }"),
    'host/node_modules/footer-plugin/templates/footer/part.html': '<p>from the package</p>',
    'local/greeter/index.mjs': pluginSource({ name: 'greeter', version: '1.0.0', author: 'me' },
      "return { hep: { before_request (request) { if (request.headers['x-greet'] !== undefined) return 'greeted' } } }")
  })
  const app = await buildHost({
    plugins: [join(base, 'local', 'greeter')],
    packages: ['footer-plugin'],
    pluginsBase: join(base, 'host'),
    view: { templates: 'templates' },
    config: { site: 'Demo' },
    fastify: { bodyLimit: 1234 },
    setup (host) {
      host.get('/page', (request, reply) => reply.view('page.html'))
    }
  })
  t.after(() => app.close())

  assert.equal(app.initialConfig.bodyLimit, 1234)
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => [plugin.name, plugin.source]), [['footer', 'package'], ['greeter', 'local']])
  const page = await app.inject('/page')
  assert.equal(page.statusCode, 200)
  assert.equal(page.body, '<main><p>from the package</p>|Demo</main>')
  // The plugin's app-wide hook applies to the host route added in setup.
  assert.equal((await app.inject({ url: '/page', headers: { 'x-greet': '1' } })).body, 'greeted')
})

test('plugins are hosted from their own folders; the plugins folder of the working directory is not used', async (t) => {
  const base = await makeTree({
    'plugins/alpha/index.mjs': pluginSource({ name: 'alpha', version: '1.0.0', author: 'me' }),
    'plugins/alpha/static/alpha.css': 'p { color: red }',
    'plugins/other/index.mjs': pluginSource({ name: 'other', version: '1.0.0', author: 'me' })
  })
  // Only the given folder, though pluginsBase has a plugins/ folder.
  const app = await buildHost({ plugins: [join(base, 'plugins', 'alpha')], pluginsBase: base })
  t.after(() => app.close())
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => [plugin.name, plugin.dir]), [['alpha', join(base, 'plugins', 'alpha')]])
  const css = await app.inject('/assets/alpha/alpha.css')
  assert.equal(css.statusCode, 200)
  assert.equal(css.body, 'p { color: red }')
})

test('a broken plugin rejects with its PluginKitError (strict), or is listed in failures with strict: false', async (t) => {
  const base = await makeTree({ 'plugins/broken/index.mjs': pluginSource({ name: 'broken', author: undefined }) })
  await assert.rejects(buildHost({ plugins: [join(base, 'plugins', 'broken')] }), (error: unknown) => {
    assert.ok(error instanceof PluginKitError)
    assert.equal(error.code, 'PLUGINKIT_ERR_PLUGIN_METADATA')
    assert.match(error.message, /plugin "broken": author: is required/)
    return true
  })

  const app = await buildHost({ plugins: [join(base, 'plugins', 'broken')], strict: false })
  t.after(() => app.close())
  assert.deepEqual(app.pluginKit.plugins, [])
  assert.equal(app.pluginKit.failures[0]?.error.code, 'PLUGINKIT_ERR_PLUGIN_METADATA')
})

test('a missing folder, a folder without an entry module and kit-level folder options are refused', async () => {
  const base = await makeTree({ 'plugins/empty/README.md': 'no entry here' })
  await assert.rejects(buildHost({ plugins: [join(base, 'plugins', 'missing')] }), (error: unknown) => {
    assert.ok(error instanceof PluginKitError)
    assert.equal(error.code, 'PLUGINKIT_ERR_PLUGINS_FOLDER')
    assert.ok(error.message.includes(join(base, 'plugins', 'missing')), error.message)
    return true
  })
  await assert.rejects(buildHost({ plugins: [join(base, 'plugins', 'empty')] }), (error: unknown) => {
    assert.ok(error instanceof PluginKitError)
    assert.equal(error.code, 'PLUGINKIT_ERR_PLUGIN_IMPORT')
    assert.match(error.message, /has no entry module/)
    return true
  })
  // @ts-expect-error pluginsFolder is replaced by plugins
  await assert.rejects(buildHost({ plugins: [], pluginsFolder: base }), /use plugins instead of pluginsFolder/)
  // @ts-expect-error pluginDirs is replaced by plugins
  await assert.rejects(buildHost({ pluginDirs: [base] }), /use plugins instead of pluginDirs/)
  // A bad kit option is reported by the kit, as in an app.
  await assert.rejects(buildHost({ plugins: [], staticUrlPath: 'assets/' }), { code: 'PLUGINKIT_ERR_INVALID_OPTION' })
})

test('two plugin folders with the same name are both hosted', async (t) => {
  const base = await makeTree({
    'a/plugin/index.mjs': pluginSource({ name: 'first', version: '1.0.0', author: 'me' }),
    'b/plugin/index.mjs': pluginSource({ name: 'second', version: '1.0.0', author: 'me' })
  })
  const app = await buildHost({ plugins: [join(base, 'a', 'plugin'), join(base, 'b', 'plugin')] })
  t.after(() => app.close())
  assert.deepEqual(app.pluginKit.plugins.map((plugin) => plugin.name).sort(), ['first', 'second'])
})
