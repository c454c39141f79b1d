import { test } from 'node:test'
import assert from 'node:assert/strict'
import type {} from '@fastify/view'
import { PluginKitError, type DcpCallback } from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree } from './helpers.ts'

async function kitApp () {
  const app = await buildApp(await makeTree({}))
  await app.ready()
  return app
}

function isInvalidOption (field: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof PluginKitError, `got ${String(error)}`)
    assert.equal(error.code, 'PLUGINKIT_ERR_INVALID_OPTION')
    assert.match(error.message, field)
    return true
  }
}

test('pushDcp appends by default; right/after append, left/before prepend', async () => {
  const { pluginKit } = await kitApp()
  pluginKit.pushDcp('ev', () => 'B')
  pluginKit.pushDcp('ev', () => 'C', 'right')
  pluginKit.pushDcp('ev', () => 'A', 'left')
  pluginKit.pushDcp('ev', () => 'D', 'after')
  pluginKit.pushDcp('ev', () => '0', 'before')
  assert.equal(pluginKit.emitDcp('ev'), '0ABCD')
  assert.equal(pluginKit.emit_dcp('ev'), '0ABCD')
  assert.equal(pluginKit.emitDcp('other'), '', 'an event without callbacks gives an empty string')
})

test('emitDcp passes its arguments, joins array results with no separator and skips empty results', async () => {
  const { pluginKit } = await kitApp()
  const seen: unknown[][] = []
  pluginKit.pushDcp('ev', (...args: unknown[]) => { seen.push(args); return `<${String(args[0])}>` })
  pluginKit.pushDcp('ev', () => ['x', 'y', 'z'])
  pluginKit.pushDcp('ev', () => undefined)
  pluginKit.pushDcp('ev', () => null)
  pluginKit.pushDcp('ev', () => '')
  pluginKit.pushDcp('ev', () => [])
  pluginKit.pushDcp('ev', (a: number, b: number) => `|${a + b}|`)
  assert.equal(pluginKit.emitDcp('ev', 1, 2), '<1>xyz|3|')
  assert.deepEqual(seen, [[1, 2]])
  assert.equal(pluginKit.emitDcp('ev', 'a', 'b'), '<a>xyz|ab|')
})

test('removeDcp removes a callback and reports whether it was there', async () => {
  const { pluginKit } = await kitApp()
  const a = () => 'a'
  const b = () => 'b'
  pluginKit.pushDcp('ev', a)
  pluginKit.pushDcp('ev', b)
  pluginKit.pushDcp('ev', a)
  assert.equal(pluginKit.emitDcp('ev'), 'aba')
  assert.equal(pluginKit.removeDcp('ev', a), true)
  assert.equal(pluginKit.emitDcp('ev'), 'ba', 'one registration is removed at a time')
  assert.equal(pluginKit.removeDcp('ev', a), true)
  assert.equal(pluginKit.emitDcp('ev'), 'b')
  assert.equal(pluginKit.removeDcp('ev', a), false)
  assert.equal(pluginKit.removeDcp('ev', () => 'b'), false, 'another function with the same body is not the same callback')
  assert.equal(pluginKit.removeDcp('nothing-here', b), false)
  assert.equal(pluginKit.removeDcp('ev', b), true)
  assert.equal(pluginKit.emitDcp('ev'), '')
})

test('an invalid event or callback is PLUGINKIT_ERR_INVALID_OPTION', async () => {
  const { pluginKit } = await kitApp()
  const badEvents: unknown[] = ['', undefined, null, 42, {}, ['ev']]
  for (const event of badEvents) {
    assert.throws(() => pluginKit.pushDcp(event as string, () => 'x'), isInvalidOption(/event/), `pushDcp(${String(event)})`)
    assert.throws(() => pluginKit.removeDcp(event as string, () => 'x'), isInvalidOption(/event/), `removeDcp(${String(event)})`)
  }
  const badCallbacks: unknown[] = [undefined, null, 'x', 42, {}]
  for (const callback of badCallbacks) {
    assert.throws(() => pluginKit.pushDcp('ev', callback as DcpCallback), isInvalidOption(/callback/), `pushDcp callback ${String(callback)}`)
    assert.throws(() => pluginKit.removeDcp('ev', callback as DcpCallback), isInvalidOption(/callback/), `removeDcp callback ${String(callback)}`)
  }
  assert.throws(() => pluginKit.pushDcp('ev', () => 'x', 'middle' as 'left'), isInvalidOption(/position/))
  assert.equal(pluginKit.emitDcp('ev'), '', 'nothing was registered by the failed calls')
})

test('emit_dcp in templates: callbacks pushed by plugins and by the host, with arguments, unescaped', async () => {
  const base = await makeTree({
    'templates/page.html': '<footer>{{ emit_dcp("footer", user) }}</footer><none>{{ emitDcp("nothing") }}</none>',
    'plugins/p/index.mjs': pluginSource({ name: 'p', version: '1.0.0', author: 'x' }, `
      ctx.kit.pushDcp('footer', (user) => '<p-dcp>' + user + '</p-dcp>')
      return {}`)
  })
  const app = await buildApp(base, { view: { templates: 'templates' } })
  app.get('/page', (request, reply) => reply.view('page.html', { user: 'ann' }))
  await app.ready()
  assert.equal((await app.inject('/page')).body, '<footer><p-dcp>ann</p-dcp></footer><none></none>')

  const host = (user: string) => [`<host user="${user}">`, '</host>']
  app.pluginKit.pushDcp('footer', host, 'left')
  assert.equal((await app.inject('/page')).body, '<footer><host user="ann"></host><p-dcp>ann</p-dcp></footer><none></none>')
  assert.equal(app.pluginKit.removeDcp('footer', host), true)
  assert.equal((await app.inject('/page')).body, '<footer><p-dcp>ann</p-dcp></footer><none></none>')
})
