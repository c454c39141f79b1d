// Issue 12: blueprints are loaded by Fastify's own register (avvio's conventions and errors).
// A blueprint that breaks them fails with a PluginKitError naming the plugin, within
// loadTimeout, and `strict: false` skips it like any broken plugin.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, pluginSource, makeTree } from './helpers.ts'

const cases = [
  { id: 'async-done-throws', blueprint: "async (app, opts, done) => { throw new Error('db down') }", cause: 'FST_ERR_PLUGIN_INVALID_ASYNC_HANDLER' },
  { id: 'async-done-never', blueprint: 'async (app, opts, done) => {}', cause: 'FST_ERR_PLUGIN_INVALID_ASYNC_HANDLER' },
  { id: 'callback-forgets-done', blueprint: "function (app, opts, done) { app.get('/', async () => 'half') }", message: /within loadTimeout \(1500 ms\); does it call done\(\)\?/ },
  { id: 'async-never-settles', blueprint: 'async (app) => { await new Promise(() => {}) }', message: /within loadTimeout \(1500 ms\)/ },
  { id: 'callback-done-error', blueprint: "function (app, opts, done) { done(new Error('no config')) }", message: /blueprint failed to load: no config/ }
] as const

function tree (id: string, blueprint: string): Record<string, string> {
  return {
    [`plugins/${id}/index.mjs`]: pluginSource({ name: id }, `return { bep: { prefix: '/${id}', blueprint: ${blueprint} } }`),
    'plugins/good/index.mjs': pluginSource({ name: 'good' }, "return { vep: { method: 'GET', url: '/good', handler: async () => 'good' } }")
  }
}

for (const row of cases) {
  test(`blueprint ${row.id}: strict rejects with PLUGINKIT_ERR_REGISTER naming the plugin; strict: false skips it`, { timeout: 20_000 }, async () => {
    const escaped: unknown[] = []
    const onEscape = (error: unknown) => { escaped.push(error) }
    process.on('unhandledRejection', onEscape)
    try {
      const base = await makeTree(tree(row.id, row.blueprint))
      const started = performance.now()
      await assert.rejects(async () => {
        const strict = await buildApp(base, { loadTimeout: 1500 })
        await strict.ready()
      }, (error: Error & { code?: string, cause?: { code?: string } }) => {
        assert.equal(error.code, 'PLUGINKIT_ERR_REGISTER')
        assert.match(error.message, new RegExp(`^plugin "${row.id}": bep: `))
        if ('cause' in row) assert.equal(error.cause?.code, row.cause)
        if ('message' in row) assert.match(error.message, row.message)
        return true
      })
      // Well before Fastify's own 10 s pluginTimeout.
      assert.ok(performance.now() - started < 9000, 'failed within loadTimeout, not pluginTimeout')

      const lenient = await buildApp(base, { loadTimeout: 1500, strict: false })
      await lenient.ready()
      assert.deepEqual(lenient.pluginKit.failures.map((failure) => [failure.plugin, failure.error.code]), [[row.id, 'PLUGINKIT_ERR_REGISTER']])
      assert.equal((await lenient.inject('/good')).body, 'good')
      assert.equal((await lenient.inject(`/${row.id}`)).statusCode, 404, 'whatever it registered is not served')
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(escaped, [], 'no unhandled rejection')
    } finally {
      process.off('unhandledRejection', onEscape)
    }
  })
}
