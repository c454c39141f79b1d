import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, pluginSource, makeTree } from './helpers.ts'

test('a local plugin blueprint is mounted under its prefix and toggles live', async () => {
  const base = await makeTree({
    'plugins/hello/index.mjs': pluginSource({ name: 'hello', version: '0.1.0', author: 'me' },
      "return { bep: { prefix: '/hello', blueprint: async (app) => { app.get('/', async () => ({ hi: true })) } } }")
  })
  const app = await buildApp(base)
  await app.ready()
  assert.deepEqual((await app.inject('/hello')).json(), { hi: true })
  await app.pluginKit.disable('hello')
  const unknown = await app.inject('/nowhere')
  const disabled = await app.inject('/hello')
  assert.equal(disabled.statusCode, 404)
  assert.equal(disabled.headers['content-type'], unknown.headers['content-type'])
  assert.deepEqual(disabled.json().error, unknown.json().error)
})
