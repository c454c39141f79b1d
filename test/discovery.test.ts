// SPEC section 3: which folders and packages become plugins, module formats, entry modules.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { buildApp, makeTree, pluginSource, routeBody } from './helpers.ts'
import { bootError, names } from './helpers-loading.ts'

const run = promisify(execFile)

/** CommonJS `module.exports = {...}` plugin source. */
const cjsPlugin = (name: string) => pluginSource({ name }, routeBody(name), { format: 'cjs' })

/** A plugin that must never be imported: importing it throws. */
const poison = "throw new Error('this module must not be imported')\n"

async function assertServes (app: FastifyInstance, name: string): Promise<void> {
  const response = await app.inject(`/${name}`)
  assert.equal(response.statusCode, 200, `/${name} should be served`)
  assert.deepEqual(response.json(), { plugin: name })
}

test('ESM plugins: index.mjs, and index.js in a "type": "module" package', async () => {
  const base = await makeTree({
    'plugins/esm-mjs/index.mjs': pluginSource({ name: 'esm-mjs' }, routeBody('esm-mjs')),
    'plugins/esm-js/package.json': JSON.stringify({ type: 'module' }),
    'plugins/esm-js/index.js': pluginSource({ name: 'esm-js' }, routeBody('esm-js'))
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['esm-js', 'esm-mjs'])
  await assertServes(app, 'esm-js')
  await assertServes(app, 'esm-mjs')
  assert.equal(app.pluginKit.get('esm-js').source, 'local')
  assert.equal(app.pluginKit.get('esm-js').dir, join(base, 'plugins', 'esm-js'))
})

test('CommonJS plugins: index.cjs, index.js with module.exports, and exports.name = ... style', async () => {
  const base = await makeTree({
    'plugins/cjs-cjs/index.cjs': cjsPlugin('cjs-cjs'),
    'plugins/cjs-js/index.js': cjsPlugin('cjs-js'),
    'plugins/cjs-named/index.js': `'use strict'
exports.name = 'cjs-named'
exports.version = '1.0.0'
exports.author = 'tester'
exports.register = function register () { ${routeBody('cjs-named')} }
`,
    'plugins/cjs-pkg/package.json': JSON.stringify({ type: 'commonjs' }),
    'plugins/cjs-pkg/index.js': cjsPlugin('cjs-pkg')
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['cjs-cjs', 'cjs-js', 'cjs-named', 'cjs-pkg'])
  for (const name of names(app)) await assertServes(app, name)
  assert.equal(app.pluginKit.get('cjs-named').author, 'tester')
})

test('both manifest forms: a default-export object and named exports', async () => {
  const base = await makeTree({
    'plugins/default-form/index.mjs': pluginSource({ name: 'default-form', description: 'default export' }, routeBody('default-form')),
    'plugins/named-form/index.mjs': pluginSource(
      { name: 'named-form', version: '2.0.0', author: 'module author', description: 'named exports' }, routeBody('named-form'), { format: 'named' })
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['default-form', 'named-form'])
  await assertServes(app, 'default-form')
  await assertServes(app, 'named-form')
  const named = app.pluginKit.get('named-form')
  assert.equal(named.version, '2.0.0')
  assert.equal(named.author, 'module author')
  assert.equal(named.description, 'named exports')
  assert.equal(app.pluginKit.get('default-form').description, 'default export')
})

test('package.json "main" chooses the entry module (with Node\'s extension lookup)', async () => {
  const base = await makeTree({
    'plugins/main-file/package.json': JSON.stringify({ main: 'lib/plugin.js' }),
    'plugins/main-file/lib/plugin.js': cjsPlugin('main-file'),
    'plugins/main-file/index.js': poison,
    'plugins/main-noext/package.json': JSON.stringify({ main: './src/entry' }),
    'plugins/main-noext/src/entry.js': cjsPlugin('main-noext'),
    'plugins/main-esm/package.json': JSON.stringify({ type: 'module', main: 'dist/main.js' }),
    'plugins/main-esm/dist/main.js': pluginSource({ name: 'main-esm' }, routeBody('main-esm')),
    'plugins/main-esm/index.js': poison
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['main-esm', 'main-file', 'main-noext'])
  for (const name of names(app)) await assertServes(app, name)
})

test('package.json "exports" chooses the entry module and wins over "main"', async () => {
  const base = await makeTree({
    'plugins/exp-string/package.json': JSON.stringify({ exports: './src/entry.mjs', main: 'index.js' }),
    'plugins/exp-string/src/entry.mjs': pluginSource({ name: 'exp-string' }, routeBody('exp-string')),
    'plugins/exp-string/index.js': poison,
    'plugins/exp-dot/package.json': JSON.stringify({ exports: { '.': './lib/entry.cjs', './package.json': './package.json' } }),
    'plugins/exp-dot/lib/entry.cjs': cjsPlugin('exp-dot'),
    'plugins/exp-dot/index.js': poison
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['exp-dot', 'exp-string'])
  for (const name of names(app)) await assertServes(app, name)
})

test('conditional "exports": the import condition is used', async () => {
  const base = await makeTree({
    'plugins/exp-cond/package.json': JSON.stringify({
      exports: { '.': { import: './esm/entry.mjs', require: './cjs/entry.cjs' } }
    }),
    'plugins/exp-cond/esm/entry.mjs': pluginSource({ name: 'exp-cond' },
      "return { bep: { prefix: '/exp-cond', blueprint: async (app) => { app.get('/', async () => ({ format: 'esm' })) } } }"),
    'plugins/exp-cond/cjs/entry.cjs': poison,
    'plugins/exp-nested/package.json': JSON.stringify({
      exports: { node: { import: './entry.mjs', require: './entry.cjs' }, default: './entry.cjs' }
    }),
    'plugins/exp-nested/entry.mjs': pluginSource({ name: 'exp-nested' }, routeBody('exp-nested')),
    'plugins/exp-nested/entry.cjs': poison
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['exp-cond', 'exp-nested'])
  assert.deepEqual((await app.inject('/exp-cond')).json(), { format: 'esm' })
  await assertServes(app, 'exp-nested')
})

test('TypeScript plugins load under tsx (index.ts, index.mts)', async () => {
  const base = await makeTree({
    'plugins/ts-plugin/index.ts': `interface Reply { plugin: string, typed: boolean }
const answer: Reply = { plugin: 'ts-plugin', typed: true }
export default {
  name: 'ts-plugin' as const,
  version: '1.0.0',
  author: 'tester',
  register (): object {
    return { bep: { prefix: '/ts-plugin', blueprint: async (app: { get: (url: string, handler: () => Promise<Reply>) => void }) => { app.get('/', async () => answer) } } }
  }
}
`,
    'plugins/mts-plugin/index.mts': `const label: string = 'mts-plugin'
export const name: string = label
export const version: string = '1.0.0'
export const author: string = 'tester'
export function register (): Record<string, unknown> { ${routeBody('mts-plugin')} }
`
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['mts-plugin', 'ts-plugin'])
  assert.deepEqual((await app.inject('/ts-plugin')).json(), { plugin: 'ts-plugin', typed: true })
  await assertServes(app, 'mts-plugin')
})

test('a TypeScript plugin under plain node fails with PLUGINKIT_ERR_PLUGIN_IMPORT that mentions TypeScript', async () => {
  const base = await makeTree({
    'plugins/ts-plugin/index.ts': `const typed: string = 'x'
export default { name: 'ts-plugin', version: '1.0.0', author: typed, register (): object { return {} } }
`
  })
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const host = join(import.meta.dirname, 'fixtures', 'loading', 'plain-node-host.mjs')
  // From Node 22.18 / 23.6 node strips types itself; switch that off to stand for a Node that cannot.
  const { typescript } = process.features as { typescript?: unknown }
  const stripsTypes = typescript !== undefined && typescript !== false
  const args = stripsTypes ? ['--no-experimental-strip-types', host, base] : [host, base]
  const { stdout } = await run(process.execPath, args, { env, timeout: 30000 })
  const outcome = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { ok: boolean, kitError?: boolean, code?: string, message?: string }
  assert.equal(outcome.ok, false, 'boot should fail under plain node')
  assert.equal(outcome.kitError, true)
  assert.equal(outcome.code, 'PLUGINKIT_ERR_PLUGIN_IMPORT')
  assert.match(outcome.message ?? '', /TypeScript|tsx/)
  assert.match(outcome.message ?? '', /ts-plugin/)
})

test('the plain node host boots JavaScript plugins (control for the TypeScript case)', async () => {
  const base = await makeTree({ 'plugins/js-plugin/index.mjs': pluginSource({ name: 'js-plugin' }, routeBody('js-plugin')) })
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const host = join(import.meta.dirname, 'fixtures', 'loading', 'plain-node-host.mjs')
  const { stdout } = await run(process.execPath, [host, base], { env, timeout: 30000 })
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'), { ok: true, plugins: ['js-plugin'] })
})

test('ignored entries: dot and underscore folders, node_modules, plain files, folders without an entry module', async () => {
  const base = await makeTree({
    'plugins/good/index.mjs': pluginSource({ name: 'good' }, routeBody('good')),
    'plugins/.hidden/index.mjs': poison,
    'plugins/.git/index.js': poison,
    'plugins/_private/index.mjs': poison,
    'plugins/_disabled/index.js': poison,
    'plugins/node_modules/index.js': poison,
    'plugins/node_modules/some-dep/index.js': poison,
    'plugins/loose-file.mjs': poison,
    'plugins/index.js': poison,
    'plugins/README.md': '# plugins',
    'plugins/assets-only/static/site.css': 'body {}',
    'plugins/docs-only/README.md': 'no entry module here',
    'plugins/nested-only/sub/index.mjs': poison,
    'plugins/wrong-name/main.mjs': poison
  })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['good'])
  assert.deepEqual(app.pluginKit.failures, [])
  await assertServes(app, 'good')
})

test('pluginPackages: plain and scoped packages, resolved from pluginsBase, in the order given', async () => {
  const base = await makeTree({
    'node_modules/pk-one/package.json': JSON.stringify({ name: 'pk-one', version: '1.0.0', main: 'main.js' }),
    'node_modules/pk-one/main.js': cjsPlugin('pk-one'),
    'node_modules/@scope/pk-two/package.json': JSON.stringify({
      name: '@scope/pk-two',
      version: '1.0.0',
      type: 'module',
      exports: { '.': { import: './esm.js', require: './cjs.cjs' } }
    }),
    'node_modules/@scope/pk-two/esm.js': pluginSource({ name: 'pk-two' }, routeBody('pk-two')),
    'node_modules/@scope/pk-two/cjs.cjs': poison,
    'node_modules/pk-three/package.json': JSON.stringify({ name: 'pk-three', version: '1.0.0' }),
    'node_modules/pk-three/index.js': cjsPlugin('pk-three'),
    'node_modules/pk-unused/package.json': JSON.stringify({ name: 'pk-unused', version: '1.0.0' }),
    'node_modules/pk-unused/index.js': poison,
    'plugins/local/index.mjs': pluginSource({ name: 'local' }, routeBody('local'))
  })
  const app = await buildApp(base, { pluginPackages: ['@scope/pk-two', 'pk-three', 'pk-one'] }, { until: 'ready' })
  assert.deepEqual(names(app), ['pk-two', 'pk-three', 'pk-one', 'local'])
  for (const name of names(app)) await assertServes(app, name)
  const two = app.pluginKit.get('pk-two')
  assert.equal(two.source, 'package')
  assert.equal(two.packageName, '@scope/pk-two')
  assert.equal(two.dir, join(base, 'node_modules', '@scope', 'pk-two'))
  assert.equal(app.pluginKit.get('pk-one').packageName, 'pk-one')
  assert.equal(app.pluginKit.get('local').source, 'local')
  assert.equal(app.pluginKit.get('local').packageName, undefined)
})

test('pluginPackages are found in node_modules of parent folders, like a dependency of the host', async () => {
  const base = await makeTree({
    'node_modules/pk-parent/package.json': JSON.stringify({ name: 'pk-parent', version: '1.0.0' }),
    'node_modules/pk-parent/index.js': cjsPlugin('pk-parent'),
    'app/node_modules/pk-near/package.json': JSON.stringify({ name: 'pk-near', version: '1.0.0' }),
    'app/node_modules/pk-near/index.js': cjsPlugin('pk-near'),
    'node_modules/pk-near/package.json': JSON.stringify({ name: 'pk-near', version: '1.0.0' }),
    'node_modules/pk-near/index.js': poison
  })
  const app = await buildApp(join(base, 'app'), { pluginPackages: ['pk-parent', 'pk-near'] }, { until: 'ready' })
  assert.deepEqual(names(app), ['pk-parent', 'pk-near'])
  assert.equal(app.pluginKit.get('pk-parent').dir, join(base, 'node_modules', 'pk-parent'))
  assert.equal(app.pluginKit.get('pk-near').dir, join(base, 'app', 'node_modules', 'pk-near'))
  await assertServes(app, 'pk-near')
})

test('an unresolvable package fails boot with PLUGINKIT_ERR_PLUGIN_IMPORT naming it', async () => {
  const base = await makeTree({ 'plugins/local/index.mjs': pluginSource({ name: 'local' }, routeBody('local')) })
  await bootError(base, { pluginPackages: ['pk-not-installed'] }, 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'pk-not-installed')
  await bootError(base, { pluginPackages: ['@scope/not-installed'] }, 'PLUGINKIT_ERR_PLUGIN_IMPORT', '@scope/not-installed')
})

test('a package name that is not a valid npm name fails boot with PLUGINKIT_ERR_PLUGIN_IMPORT naming it', async () => {
  const base = await makeTree({
    'escape/package.json': JSON.stringify({ name: 'escape', version: '1.0.0' }),
    'escape/index.js': poison
  })
  await bootError(join(base, 'app'), { pluginPackages: ['../escape'] }, 'PLUGINKIT_ERR_PLUGIN_IMPORT', '../escape')
})

test('a plugin folder with an unreadable package.json fails boot with PLUGINKIT_ERR_PLUGIN_IMPORT naming the folder', async () => {
  const base = await makeTree({
    'plugins/bad-json/package.json': '{ "main": ',
    'plugins/bad-json/index.mjs': pluginSource({ name: 'bad-json' }, routeBody('bad-json'))
  })
  await bootError(base, {}, 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'bad-json')
})

test('a symlink to a plugin folder is a plugin folder', async () => {
  const elsewhere = await makeTree({ 'linked/index.mjs': pluginSource({ name: 'linked' }, routeBody('linked')) })
  const base = await makeTree({ 'plugins/via-link': { symlink: join(elsewhere, 'linked') } })
  const app = await buildApp(base, {}, { until: 'ready' })
  assert.deepEqual(names(app), ['linked'])
  await assertServes(app, 'linked')
})

test('a package that cannot be imported fails boot with PLUGINKIT_ERR_PLUGIN_IMPORT naming it, with the cause', async () => {
  const base = await makeTree({
    'node_modules/pk-broken/package.json': JSON.stringify({ name: 'pk-broken', version: '1.0.0', main: 'index.js' }),
    'node_modules/pk-broken/index.js': "throw new Error('pk-broken exploded')\n"
  })
  const error = await bootError(base, { pluginPackages: ['pk-broken'] }, 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'pk-broken')
  assert.ok(error.cause instanceof Error)
  assert.equal(error.cause.message, 'pk-broken exploded')
})

test('a package whose "main" file is missing fails boot with PLUGINKIT_ERR_PLUGIN_IMPORT naming it', async () => {
  const base = await makeTree({
    'node_modules/pk-nomain/package.json': JSON.stringify({ name: 'pk-nomain', version: '1.0.0', main: 'missing.js' })
  })
  await bootError(base, { pluginPackages: ['pk-nomain'] }, 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'pk-nomain')
})

test('a local plugin with a syntax error fails boot with PLUGINKIT_ERR_PLUGIN_IMPORT naming its folder', async () => {
  const base = await makeTree({ 'plugins/broken-syntax/index.mjs': 'export default {\n' })
  const error = await bootError(base, {}, 'PLUGINKIT_ERR_PLUGIN_IMPORT', 'broken-syntax')
  assert.ok(error.cause instanceof SyntaxError)
})

// The checkers' TypeBox compiler loads on first use, through require() of its ES module, in a
// host without a TypeScript loader (the tests themselves run under tsx, which imports it up front).
test('under plain node, invalid manifests and contributions get the compiled checker\'s messages, with no warning', async () => {
  const host = join(import.meta.dirname, 'fixtures', 'loading', 'plain-node-host.mjs')
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const boot = async (files: Record<string, string>) => {
    const { stdout, stderr } = await run(process.execPath, [host, await makeTree(files)], { env, timeout: 30000 })
    assert.equal(stderr, '', 'nothing on stderr (no ExperimentalWarning for require() of an ES module)')
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { ok: boolean, code?: string, message?: string }
  }
  const version = await boot({ 'plugins/bad-version/index.mjs': pluginSource({ name: 'bad-version', version: 'one' }) })
  assert.equal(version.ok, false)
  assert.equal(version.code, 'PLUGINKIT_ERR_PLUGIN_VERSION')
  assert.match(version.message ?? '', /plugin "bad-version": version: must be a strict semver version/)

  const typo = await boot({ 'plugins/typo/index.mjs': pluginSource({ name: 'typo' }, 'return { hep: { before_requst () {} } }') })
  assert.equal(typo.ok, false)
  assert.equal(typo.code, 'PLUGINKIT_ERR_EXTENSION_POINT')
  assert.equal(typo.message, 'plugin "typo": hep.before_requst: is not a known key (did you mean before_request?)')
})
