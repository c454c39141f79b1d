// The pluginDirs option: plugin folders named one by one, beside pluginPackages and pluginsFolder.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { discover } from '../lib/discovery.ts'
import { buildApp, makeTree, pluginSource, routeBody } from './helpers.ts'
import { bootError, names } from './helpers-loading.ts'

const pkg = (name: string, plugin: string) => ({
  [`node_modules/${name}/package.json`]: JSON.stringify({ name, version: '1.0.0', main: 'index.js' }),
  [`node_modules/${name}/index.js`]: pluginSource({ name: plugin }, 'return {}', { format: 'cjs' })
})

test('load order: packages, then pluginDirs in the order given, then the plugins folder by name', async () => {
  const base = await makeTree({
    ...pkg('pk-first', 'from-package'),
    'plugins/a-local/index.mjs': pluginSource({ name: 'a-local' }, routeBody('a-local')),
    'plugins/z-local/index.mjs': pluginSource({ name: 'z-local' }, routeBody('z-local')),
    'extra/zulu/index.mjs': pluginSource({ name: 'zulu' }, routeBody('zulu'))
  })
  const outside = await makeTree({ 'alpha/index.mjs': pluginSource({ name: 'alpha' }, routeBody('alpha')) })
  const app = await buildApp(base, {
    pluginPackages: ['pk-first'],
    // Relative to pluginsBase, or absolute.
    pluginDirs: ['extra/zulu', join(outside, 'alpha')]
  }, { until: 'ready' })
  assert.deepEqual(names(app), ['from-package', 'zulu', 'alpha', 'a-local', 'z-local'])
  assert.equal(app.pluginKit.get('zulu').dir, join(base, 'extra', 'zulu'))
  assert.equal(app.pluginKit.get('alpha').dir, join(outside, 'alpha'))
  assert.equal(app.pluginKit.get('alpha').source, 'local')
  assert.deepEqual((await app.inject('/zulu')).json(), { plugin: 'zulu' })
  assert.deepEqual((await app.inject('/alpha')).json(), { plugin: 'alpha' })
})

test('dependencies reorder across pluginDirs and the plugins folder, as for any plugin', async () => {
  const base = await makeTree({
    'plugins/base-lib/index.mjs': pluginSource({ name: 'base-lib' }, routeBody('base-lib')),
    'dirs/app/index.mjs': pluginSource({ name: 'app', dependencies: { 'base-lib': '^1.0.0' } }, routeBody('app'))
  })
  const app = await buildApp(base, { pluginDirs: ['dirs/app'] }, { until: 'ready' })
  assert.deepEqual(names(app), ['base-lib', 'app'])
})

test('a folder in both pluginDirs and the plugins folder is one plugin, at its pluginDirs place', async () => {
  const base = await makeTree({
    'plugins/aaa/index.mjs': pluginSource({ name: 'aaa' }, routeBody('aaa')),
    'plugins/zzz/index.mjs': pluginSource({ name: 'zzz' }, routeBody('zzz'))
  })
  const app = await buildApp(base, { pluginDirs: ['plugins/zzz/', join(base, 'plugins', 'zzz')] }, { until: 'ready' })
  assert.deepEqual(names(app), ['zzz', 'aaa'])
})

test('pluginsFolder: false leaves out the plugins folder', async () => {
  const base = await makeTree({
    'plugins/ignored/index.mjs': pluginSource({ name: 'ignored' }, routeBody('ignored')),
    'only/index.mjs': pluginSource({ name: 'only' }, routeBody('only'))
  })
  assert.deepEqual(names(await buildApp(base, { pluginsFolder: false, pluginDirs: ['only'] }, { until: 'ready' })), ['only'])
  assert.deepEqual(names(await buildApp(base, { pluginsFolder: false }, { until: 'ready' })), [])
})

test('a missing pluginDirs folder, or a file, fails boot with PLUGINKIT_ERR_PLUGINS_FOLDER naming it, even if not strict', async () => {
  const base = await makeTree({ 'dirs/one/index.mjs': pluginSource({ name: 'one' }, routeBody('one')), 'dirs/file.txt': 'not a folder' })
  await bootError(base, { pluginDirs: ['dirs/one', 'dirs/missing'] }, 'PLUGINKIT_ERR_PLUGINS_FOLDER',
    'option pluginDirs[1]', join(base, 'dirs', 'missing'))
  await bootError(base, { pluginDirs: ['dirs/file.txt'], strict: false }, 'PLUGINKIT_ERR_PLUGINS_FOLDER',
    'option pluginDirs[0]', join(base, 'dirs', 'file.txt'))
})

test('a pluginDirs folder without an entry module is a broken plugin: it fails boot, or is skipped with strict: false', async () => {
  const base = await makeTree({ 'dirs/empty/README.md': 'no entry here', 'dirs/good/index.mjs': pluginSource({ name: 'good' }, routeBody('good')) })
  const folder = join(base, 'dirs', 'empty')
  await bootError(base, { pluginDirs: ['dirs/empty'] }, 'PLUGINKIT_ERR_PLUGIN_IMPORT', `plugin folder "${folder}"`, 'has no entry module')
  const app = await buildApp(base, { pluginDirs: ['dirs/empty', 'dirs/good'], strict: false }, { until: 'ready' })
  assert.deepEqual(names(app), ['good'])
  assert.deepEqual(app.pluginKit.failures.map((failure) => [failure.dir, failure.error.code]), [[folder, 'PLUGINKIT_ERR_PLUGIN_IMPORT']])
})

test('pluginDirs plugins get the manifest checks of any plugin folder', async () => {
  const base = await makeTree({
    'dirs/no-author/index.mjs': pluginSource({ name: 'no-author', author: undefined }),
    'dirs/bad-json/package.json': '{ "main": ',
    'plugins/twin/index.mjs': pluginSource({ name: 'twin' }, routeBody('twin')),
    'dirs/twin/index.mjs': pluginSource({ name: 'twin' }, routeBody('twin'))
  })
  await bootError(base, { pluginDirs: ['dirs/no-author'] }, 'PLUGINKIT_ERR_PLUGIN_METADATA', 'plugin "no-author"', 'author')
  await bootError(base, { pluginDirs: ['dirs/bad-json'] }, 'PLUGINKIT_ERR_PLUGIN_IMPORT', join(base, 'dirs', 'bad-json'))
  await bootError(base, { pluginDirs: ['dirs/twin'] }, 'PLUGINKIT_ERR_DUPLICATE_PLUGIN', 'plugin "twin"')
})

test('pluginDirs must be an array of non-empty strings; pluginsFolder a path or false', async () => {
  const base = await makeTree({})
  await bootError(base, { pluginDirs: 'dirs/one' }, 'PLUGINKIT_ERR_INVALID_OPTION', 'option pluginDirs', 'an array of plugin folders')
  await bootError(base, { pluginDirs: ['dirs/one', 42] }, 'PLUGINKIT_ERR_INVALID_OPTION', 'option pluginDirs[1]')
  await bootError(base, { pluginDirs: [''] }, 'PLUGINKIT_ERR_INVALID_OPTION', 'option pluginDirs[0]')
  await bootError(base, { pluginsFolder: true }, 'PLUGINKIT_ERR_INVALID_OPTION', 'option pluginsFolder', 'or false')
  const typo = await bootError(base, { pluginDir: ['dirs/one'] }, 'PLUGINKIT_ERR_INVALID_OPTION')
  assert.match(typo.message, /did you mean pluginDirs\?/)
})

test('discover() lists candidates in load order and each folder once', async () => {
  const base = await makeTree({
    ...pkg('pk-x', 'x'),
    'plugins/b/index.mjs': pluginSource({ name: 'b' }, routeBody('b')),
    'plugins/c/index.mjs': pluginSource({ name: 'c' }, routeBody('c')),
    'dirs/a/index.mjs': pluginSource({ name: 'a' }, routeBody('a'))
  })
  const candidates = await discover({
    pluginsBase: base,
    pluginPackages: ['pk-x'],
    pluginDirs: [join(base, 'plugins', 'c'), join(base, 'dirs', 'a')],
    pluginsFolder: join(base, 'plugins'),
    pluginsFolderRequired: true
  })
  assert.deepEqual(candidates.map((candidate) => [candidate.source, candidate.dir]), [
    ['package', join(base, 'node_modules', 'pk-x')],
    ['local', join(base, 'plugins', 'c')],
    ['local', join(base, 'dirs', 'a')],
    ['local', join(base, 'plugins', 'b')]
  ])
})
