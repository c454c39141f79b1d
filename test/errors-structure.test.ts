// Issue 12: every PluginKitError carries its subject (plugin, dir, package, option, store) and
// field as properties besides the message, and failures keep source and packageName, so no
// caller (the CLI included) reads them back out of messages or paths.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { PluginKitError } from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree } from './helpers.ts'

const meta = (name: string) => ({ name, version: '1.0.0', author: 'tester' })

test('failures carry subject, field, source and packageName as properties', async () => {
  const base = await makeTree({
    'plugins/no-name/index.mjs': 'export default { version: "1.0.0", author: "a", register () { return {} } }',
    'plugins/bad-point/index.mjs': pluginSource(meta('bad-point'), 'return { hep: { beforeRequest () {} } }'),
    'plugins/good/index.mjs': pluginSource(meta('good'))
  })
  const app = await buildApp(base, { strict: false, pluginPackages: ['no-such-package-anywhere'] })
  await app.ready()
  const byPlugin = new Map(app.pluginKit.failures.map((failure) => [failure.plugin, failure]))

  const missing = byPlugin.get('no-such-package-anywhere')
  assert.ok(missing !== undefined)
  assert.equal(missing.source, 'package')
  assert.equal(missing.packageName, 'no-such-package-anywhere')
  assert.equal(missing.dir, undefined, 'an unresolved package has no folder')
  assert.equal(missing.error.package, 'no-such-package-anywhere')
  assert.equal(missing.error.code, 'PLUGINKIT_ERR_PLUGIN_IMPORT')

  const unnamed = byPlugin.get('no-name')
  assert.ok(unnamed !== undefined)
  assert.equal(unnamed.source, 'local')
  assert.equal(unnamed.dir, join(base, 'plugins', 'no-name'))
  assert.equal(unnamed.error.dir, join(base, 'plugins', 'no-name'), 'named by its folder until its name is known')
  assert.equal(unnamed.error.plugin, undefined)
  assert.equal(unnamed.error.field, 'name')

  const badPoint = byPlugin.get('bad-point')
  assert.ok(badPoint !== undefined)
  assert.ok(badPoint.error instanceof PluginKitError)
  assert.equal(badPoint.error.plugin, 'bad-point')
  assert.equal(badPoint.error.field, 'hep.beforeRequest')
  assert.equal(badPoint.error.code, 'PLUGINKIT_ERR_EXTENSION_POINT')
  assert.match(badPoint.error.message, /^plugin "bad-point": hep\.beforeRequest: /)
  assert.equal(badPoint.error.message, `plugin "bad-point": hep.beforeRequest: ${badPoint.error.detail ?? ''}`, 'the message is built from the fields')
})

test('option and store errors carry option and store', async () => {
  const base = await makeTree({})
  await assert.rejects(async () => { await (await buildApp(base, { staticUrlPath: 'assets/' })).ready() }, (error: PluginKitError) => {
    assert.equal(error.code, 'PLUGINKIT_ERR_INVALID_OPTION')
    assert.equal(error.option, 'staticUrlPath')
    return true
  })
  const corrupt = await makeTree({ 'state.json': '{ not json' })
  await assert.rejects(async () => { await (await buildApp(corrupt, { store: { file: 'state.json' } })).ready() }, (error: PluginKitError) => {
    assert.equal(error.code, 'PLUGINKIT_ERR_STATE_STORE')
    assert.equal(error.store, `state file ${join(corrupt, 'state.json')}`)
    return true
  })
})
