// Direct tests of lib/loader.ts: importing a plugin's entry module, bounded concurrency, timeouts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { importManifest, mapLimit, withTimeout } from '../lib/loader.ts'
import { PluginKitError } from '../lib/errors.ts'
import type { Candidate } from '../lib/discovery.ts'
import { makeTree } from './helpers.ts'

/**
 * An assert.rejects validator: the source's PluginKitError (not dist's: this test imports lib/)
 * with `code`, mentioning each of `mentions`.
 */
function kitErrorWith (code: string, ...mentions: string[]): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof PluginKitError, `expected a PluginKitError, got ${String(error)}`)
    assert.equal(error.code, code)
    for (const mention of mentions) {
      assert.ok(error.message.includes(mention), `${JSON.stringify(error.message)} should mention ${JSON.stringify(mention)}`)
    }
    return true
  }
}

const candidate = (dir: string, entry: string): Candidate => ({ source: 'local', dir, subject: { dir }, entry: join(dir, entry) })

test('importManifest: the default export when it is an object', async () => {
  const dir = await makeTree({ 'index.mjs': 'export default { name: "a", extra: 1 }\nexport const name = "ignored"\n' })
  assert.deepEqual(await importManifest(candidate(dir, 'index.mjs'), 1000), { name: 'a', extra: 1 })
})

test('importManifest: the module namespace when there is no object default export (named-exports form)', async () => {
  const dir = await makeTree({
    'named.mjs': 'export const name = "b"\nexport function register () { return {} }\n',
    'fn.mjs': 'export default function register () {}\nexport const name = "c"\n',
    'null.mjs': 'export default null\nexport const name = "d"\n'
  })
  const named = await importManifest(candidate(dir, 'named.mjs'), 1000) as Record<string, unknown>
  assert.equal(named.name, 'b')
  assert.equal(typeof named.register, 'function')
  const fn = await importManifest(candidate(dir, 'fn.mjs'), 1000) as Record<string, unknown>
  assert.equal(fn.name, 'c')
  assert.equal(typeof fn.default, 'function')
  assert.equal((await importManifest(candidate(dir, 'null.mjs'), 1000) as Record<string, unknown>).name, 'd')
})

test('importManifest: CommonJS entries load too', async () => {
  const dir = await makeTree({ 'index.cjs': 'module.exports = { name: "cjs", register () { return {} } }\n' })
  const manifest = await importManifest(candidate(dir, 'index.cjs'), 1000) as Record<string, unknown>
  assert.equal(manifest.name, 'cjs')
})

test('importManifest: a candidate that could not be resolved throws its own error', async () => {
  // Discovery's error, whatever it is, is what importManifest throws.
  const error = Object.assign(new PluginKitError('package "ghost": cannot be resolved'), { code: 'PLUGINKIT_ERR_PLUGIN_IMPORT' as const })
  const unresolved: Candidate = { source: 'package', dir: '/nowhere', subject: { package: 'ghost' }, error }
  await assert.rejects(importManifest(unresolved, 1000), (thrown) => thrown === error)
})

test('importManifest: a module that throws is PLUGINKIT_ERR_PLUGIN_IMPORT naming the entry and the cause', async () => {
  const dir = await makeTree({ 'index.mjs': 'throw new Error("db down")\n', 'syntax.mjs': 'export default {\n' })
  await assert.rejects(importManifest(candidate(dir, 'index.mjs'), 1000),
    kitErrorWith('PLUGINKIT_ERR_PLUGIN_IMPORT', `plugin folder "${dir}"`, `cannot import ${join(dir, 'index.mjs')}: db down`))
  await assert.rejects(importManifest(candidate(dir, 'syntax.mjs'), 1000),
    kitErrorWith('PLUGINKIT_ERR_PLUGIN_IMPORT', `cannot import ${join(dir, 'syntax.mjs')}`))
  const error = await importManifest(candidate(dir, 'index.mjs'), 1000).catch((thrown: unknown) => thrown) as Error
  assert.equal((error.cause as Error).message, 'db down')
})

test('importManifest: an import that does not settle within the time allowed fails, saying so', async () => {
  const dir = await makeTree({ 'index.mjs': 'await new Promise(() => {})\nexport default {}\n' })
  const started = Date.now()
  await assert.rejects(importManifest(candidate(dir, 'index.mjs'), 50),
    kitErrorWith('PLUGINKIT_ERR_PLUGIN_IMPORT', `import of ${join(dir, 'index.mjs')} did not finish within loadTimeout (50 ms)`))
  assert.ok(Date.now() - started < 5000)
})

test('mapLimit: results in input order, never more than `limit` calls in flight', async () => {
  let inFlight = 0
  let most = 0
  const results = await mapLimit([50, 10, 30, 0, 20, 5], 2, async (ms) => {
    inFlight++
    most = Math.max(most, inFlight)
    await new Promise((resolve) => setTimeout(resolve, ms))
    inFlight--
    return ms * 2
  })
  assert.deepEqual(results, [100, 20, 60, 0, 40, 10])
  assert.equal(most, 2)
  assert.deepEqual(await mapLimit([], 4, async () => 1), [])
})

test('mapLimit: rejects with the first failure', async () => {
  await assert.rejects(mapLimit([1, 2, 3], 3, async (n) => {
    if (n === 2) throw new Error('two failed')
    return n
  }), /two failed/)
})

test('withTimeout: the work\'s value or rejection when it settles in time; the error is built only when the time is up', async () => {
  let built = 0
  const onTimeout = () => {
    built++
    return new Error('too slow')
  }
  assert.equal(await withTimeout(Promise.resolve('done'), 1000, onTimeout), 'done')
  await assert.rejects(withTimeout(Promise.reject(new Error('own failure')), 1000, onTimeout), /own failure/)
  assert.equal(built, 0)
  await assert.rejects(withTimeout(new Promise(() => {}), 20, onTimeout), /too slow/)
  assert.equal(built, 1)
})
