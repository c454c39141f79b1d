// The pluginDirs option: plugin folders named one by one, beside pluginPackages and pluginsFolder.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { discover } from '../lib/discovery.ts'
import { makeTree } from './helpers.ts'
import { bootApp, bootError, fields, names, routePlugin } from './helpers-loading.ts'

const pkg = (name: string, plugin: string) => ({
  [`node_modules/${name}/package.json`]: JSON.stringify({ name, version: '1.0.0', main: 'index.js' }),
  [`node_modules/${name}/index.js`]: `module.exports = { ...${JSON.stringify(fields(plugin))}, register () { return {} } }\n`
})

test('load order: packages, then pluginDirs in the order given, then the plugins folder by name', async () => {
  const base = await makeTree({
    ...pkg('pk-first', 'from-package'),
    'plugins/a-local/index.mjs': routePlugin('a-local'),
    'plugins/z-local/index.mjs': routePlugin('z-local'),
    'extra/zulu/index.mjs': routePlugin('zulu')
  })
  const outside = await makeTree({ 'alpha/index.mjs': routePlugin('alpha') })
  const app = await bootApp(base, {
    pluginPackages: ['pk-first'],
    // Relative to pluginsBase, or absolute.
    pluginDirs: ['extra/zulu', join(outside, 'alpha')]
  })
  assert.deepEqual(names(app), ['from-package', 'zulu', 'alpha', 'a-local', 'z-local'])
  assert.equal(app.pluginKit.get('zulu').dir, join(base, 'extra', 'zulu'))
  assert.equal(app.pluginKit.get('alpha').dir, join(outside, 'alpha'))
  assert.equal(app.pluginKit.get('alpha').source, 'local')
  assert.deepEqual((await app.inject('/zulu')).json(), { plugin: 'zulu' })
  assert.deepEqual((await app.inject('/alpha')).json(), { plugin: 'alpha' })
})

test('dependencies reorder across pluginDirs and the plugins folder, as for any plugin', async () => {
  const base = await makeTree({
    'plugins/base-lib/index.mjs': routePlugin('base-lib'),
    'dirs/app/index.mjs': routePlugin('app', { dependencies: { 'base-lib': '^1.0.0' } })
  })
  const app = await bootApp(base, { pluginDirs: ['dirs/app'] })
  assert.deepEqual(names(app), ['base-lib', 'app'])
})

test('a folder in both pluginDirs and the plugins folder is one plugin, at its pluginDirs place', async () => {
  const base = await makeTree({
    'plugins/aaa/index.mjs': routePlugin('aaa'),
    'plugins/zzz/index.mjs': routePlugin('zzz')
  })
  const app = await bootApp(base, { pluginDirs: ['plugins/zzz/', join(base, 'plugins', 'zzz')] })
  assert.deepEqual(names(app), ['zzz', 'aaa'])
})

test('pluginsFolder: false leaves out the plugins folder', async () => {
  const base = await makeTree({
    'plugins/ignored/index.mjs': routePlugin('ignored'),
    'only/index.mjs': routePlugin('only')
  })
  assert.deepEqual(names(await bootApp(base, { pluginsFolder: false, pluginDirs: ['only'] })), ['only'])
  assert.deepEqual(names(await bootApp(base, { pluginsFolder: false })), [])
})

test('a missing pluginDirs folder, or a file, fails boot with PLUGINKIT_ERR_PLUGINS_FOLDER naming it, even if not strict', async () => {
  const base = await makeTree({ 'dirs/one/index.mjs': routePlugin('one'), 'dirs/file.txt': 'not a folder' })
  await bootError(base, { pluginDirs: ['dirs/one', 'dirs/missing'] }, 'PLUGINKIT_ERR_PLUGINS_FOLDER',
    'option pluginDirs[1]', join(base, 'dirs', 'missing'))
  await bootError(base, { pluginDirs: ['dirs/file.txt'], strict: false }, 'PLUGINKIT_ERR_PLUGINS_FOLDER',
    'option pluginDirs[0]', join(base, 'dirs', 'file.txt'))
})

test('a pluginDirs folder without an entry module is a broken plugin: it fails boot, or is skipped with strict: false', async () => {
  const base = await makeTree({ 'dirs/empty/README.md': 'no entry here', 'dirs/good/index.mjs': routePlugin('good') })
  const folder = join(base, 'dirs', 'empty')
  await bootError(base, { pluginDirs: ['dirs/empty'] }, 'PLUGINKIT_ERR_PLUGIN_IMPORT', `plugin folder "${folder}"`, 'has no entry module')
  const app = await bootApp(base, { pluginDirs: ['dirs/empty', 'dirs/good'], strict: false })
  assert.deepEqual(names(app), ['good'])
  assert.deepEqual(app.pluginKit.failures.map((failure) => [failure.dir, failure.error.code]), [[folder, 'PLUGINKIT_ERR_PLUGIN_IMPORT']])
})

test('pluginDirs plugins get the manifest checks of any plugin folder', async () => {
  const base = await makeTree({
    'dirs/no-author/index.mjs': 'export default { name: \'no-author\', version: \'1.0.0\', register () { return {} } }\n',
    'dirs/bad-json/package.json': '{ "main": ',
    'plugins/twin/index.mjs': routePlugin('twin'),
    'dirs/twin/index.mjs': routePlugin('twin')
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
    'plugins/b/index.mjs': routePlugin('b'),
    'plugins/c/index.mjs': routePlugin('c'),
    'dirs/a/index.mjs': routePlugin('a')
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
