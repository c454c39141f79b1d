// Issue 17, item 7: with plugin error handlers installed, an error that none of them answers is
// handled (and logged) once, by the app's own error handling, exactly as without the kit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { captureLogs, ERROR } from './helpers-views.ts'

for (const withHandlers of [true, false]) {
  test(`an unanswered 500 is logged once ${withHandlers ? 'with' : 'without'} plugin error handlers, and answered as Fastify does`, async () => {
    const base = await makeTree(withHandlers
      ? { 'plugins/teapot/index.mjs': pluginSource({ name: 'teapot' }, "return { errhandler: { 418: (error, request, reply) => reply.send('teapot') } }") }
      : {})
    const { lines, fastifyOptions } = captureLogs()
    const app = await buildApp(base, {}, { fastify: fastifyOptions })
    app.get('/boom', async () => { throw new Error('boom') })
    app.get('/teapot', async () => { throw Object.assign(new Error('short and stout'), { statusCode: 418 }) })
    await app.ready()
    const response = await app.inject('/boom')
    assert.equal(response.statusCode, 500)
    assert.deepEqual(response.json(), { statusCode: 500, error: 'Internal Server Error', message: 'boom' })
    const errors = lines.filter((line) => line.level >= ERROR)
    assert.equal(errors.length, 1, `one error line, got ${errors.length}`)
    if (withHandlers) assert.equal((await app.inject('/teapot')).body, 'teapot')
  })
}
