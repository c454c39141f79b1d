// Issue 11, item 9: plugins named like Object.prototype's members (`constructor`, `toString`,
// `valueOf`, ...) behave like any other: states, config and dependencies are looked up as own
// properties only, through every store.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { buildApp, code, pluginSource, makeTree } from './helpers.ts'

// Plugin modules live in temporary folders: they import typebox by URL.
const typeboxUrl = pathToFileURL(createRequire(import.meta.url).resolve('typebox')).href
const NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf']

function tree (): Record<string, string> {
  const files: Record<string, string> = {}
  for (const name of NAMES) {
    files[`plugins/${name}/index.mjs`] = pluginSource({ name }, `return { vep: { method: 'GET', url: '/${name}', handler: async () => ({ name: '${name}', config: ctx.config }) } }`)
  }
  // Depends on `constructor`, and on nothing else.
  files['plugins/zz-dependent/index.mjs'] = pluginSource({ name: 'zz-dependent', dependencies: ['constructor'] }, 'return {}')
  return files
}

for (const store of ['memory', 'file'] as const) {
  test(`plugins named like Object.prototype members boot enabled, toggle and persist (${store} store)`, async () => {
    const base = await makeTree(tree())
    const stateFile = join(base, 'state.json')
    const storeOption = store === 'memory' ? 'memory' as const : { file: stateFile }
    const app = await buildApp(base, { store: storeOption })
    await app.ready()
    for (const name of NAMES) {
      assert.equal(app.pluginKit.get(name).state, 'enabled', `${name} boots enabled`)
      const response = await app.inject(`/${name}`)
      assert.equal(response.statusCode, 200, name)
      assert.deepEqual(response.json(), { name, config: {} }, `${name} gets no config from Object.prototype`)
    }
    // Only `constructor` has a dependent; the others can be disabled alone.
    await assert.rejects(app.pluginKit.disable('constructor'), { code: 'PLUGINKIT_ERR_DEPENDENCY' })
    await app.pluginKit.disable('toString')
    await app.pluginKit.disable('constructor', { cascade: true })
    assert.equal(app.pluginKit.get('zz-dependent').state, 'disabled')
    assert.equal(app.pluginKit.get('valueOf').state, 'enabled', 'valueOf was not caught up in the cascade')
    assert.equal((await app.inject('/toString')).statusCode, 404)
    if (store === 'file') {
      const saved = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>
      assert.equal(saved.toString, 'disabled')
      assert.equal(saved.constructor, 'disabled')
      await app.close()
      const again = await buildApp(base, { store: storeOption })
      await again.ready()
      assert.equal(again.pluginKit.get('toString').state, 'disabled', 'the saved state is read back')
      assert.equal(again.pluginKit.get('valueOf').state, 'enabled')
    }
  })
}

test('pluginConfig keyed by such names applies to that plugin only', async () => {
  const files = tree()
  files['plugins/valueOf/index.mjs'] = pluginSource(
    { name: 'valueOf', configSchema: code('Type.Object({ n: Type.Integer({ default: 1 }) })') },
    "return { vep: { method: 'GET', url: '/valueOf', handler: async () => ({ config: ctx.config }) } }",
    { header: `import { Type } from '${typeboxUrl}'` })
  const base = await makeTree(files)
  const app = await buildApp(base, { pluginConfig: { valueOf: { n: 7 } } })
  await app.ready()
  assert.deepEqual((await app.inject('/valueOf')).json(), { config: { n: 7 } })
  assert.deepEqual((await app.inject('/toString')).json(), { name: 'toString', config: {} })
})
