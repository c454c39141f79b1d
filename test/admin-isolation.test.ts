import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildApp, pluginSource, makeTree } from './helpers.ts'

// The admin is out of the plugins' reach (issue #13): plugins' before_request, after_request,
// teardown_request and error handlers never run on the admin's routes, while the host's and
// the plugins' own routes still get them.

const secret = { 'x-admin': 's3cret' }
const authorize = (request: { headers: Record<string, unknown> }) => request.headers['x-admin'] === 's3cret'
const json = { ...secret, 'content-type': 'application/json' }

/** A plugin counting each call of its hooks in globalThis.__isolation (admin requests must add none). */
const counted = (phase: string, body: string) => `(request, reply, payload) => {
  globalThis.__isolation.${phase}.push(request.url)
  ${body}
}`

interface Calls { before: string[], after: string[], teardown: string[] }
declare global { var __isolation: Calls }

async function app (plugins: Record<string, string>, quarantine = false): Promise<FastifyInstance> {
  globalThis.__isolation = { before: [], after: [], teardown: [] }
  const tree = Object.fromEntries(Object.entries(plugins).map(([name, register]) =>
    [`plugins/${name}/index.mjs`, pluginSource({ name }, register)]))
  const base = await makeTree({
    ...tree,
    'plugins/pages/index.mjs': pluginSource({ name: 'pages' }, "return { vep: { method: 'GET', url: '/page', handler: async () => ({ page: true }) } }")
  })
  return buildApp(base, {
    admin: { authorize },
    ...(quarantine ? { quarantine: { maxErrors: 2, windowMs: 60_000 } } : {})
  }, { until: 'ready' })
}

/** Every kind of admin answer: the page, the API (200, 404, 409-free toggles), a 401 and a 415. */
async function adminAnswers (instance: FastifyInstance) {
  return {
    page: await instance.inject({ url: '/pluginkit/', headers: secret }),
    list: await instance.inject({ url: '/pluginkit/api/plugins', headers: secret }),
    unknown: await instance.inject({ method: 'POST', url: '/pluginkit/api/plugins/nope/disable', headers: json, payload: '{}' }),
    refused: await instance.inject({ url: '/pluginkit/api/plugins' }),
    wrongType: await instance.inject({ method: 'POST', url: '/pluginkit/api/plugins/pages/disable', headers: { ...secret, 'content-type': 'text/plain' }, payload: 'x' })
  }
}

test('a maintenance before_request answering 503 everywhere does not lock the owner out of the admin', async () => {
  const instance = await app({
    maint: `return { hep: { before_request: ${counted('before', 'return reply.code(503).send({ maintenance: true })')} } }`
  })
  assert.equal((await instance.inject('/')).statusCode, 503, 'the host route is in maintenance')
  assert.equal((await instance.inject('/page')).statusCode, 503, 'so is a plugin route')
  assert.equal((await instance.inject('/pluginkit/nowhere')).statusCode, 503, 'an unknown URL under the prefix is no admin route')
  globalThis.__isolation.before.length = 0

  const answers = await adminAnswers(instance)
  assert.deepEqual(Object.values(answers).map((answer) => answer.statusCode), [200, 200, 404, 401, 415])
  assert.match(answers.page.body, /<form method="post" action="\/pluginkit\/plugins\/maint\/disable"/)
  const disabled = await instance.inject({ method: 'POST', url: '/pluginkit/api/plugins/maint/disable', headers: json, payload: '{}' })
  assert.equal(disabled.statusCode, 200, disabled.body)
  assert.deepEqual(globalThis.__isolation.before, [], 'the hook never ran for an admin request')
  assert.equal(instance.pluginKit.get('maint').stats.hookCalls, 3, 'only the three non-admin requests counted')

  assert.equal((await instance.inject('/')).statusCode, 200, 'maintenance over')
  assert.equal((await instance.inject('/page')).statusCode, 200)

  // The page's forms live in a context nested in the admin's: out of reach too.
  await instance.pluginKit.enable('maint')
  const form = { ...secret, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' }
  const posted = await instance.inject({ method: 'POST', url: '/pluginkit/plugins/maint/disable', headers: form, payload: '' })
  assert.equal(posted.statusCode, 303, posted.body)
  assert.equal((await instance.inject('/')).statusCode, 200)
})

test('an after_request that rewrites every payload leaves the admin\'s answers alone', async () => {
  const instance = await app({
    rewrite: `return { hep: { after_request: ${counted('after', "return 'rewritten'")} } }`
  })
  assert.equal((await instance.inject('/')).body, 'rewritten')
  assert.equal((await instance.inject('/page')).body, 'rewritten')
  globalThis.__isolation.after.length = 0

  const answers = await adminAnswers(instance)
  for (const [name, answer] of Object.entries(answers)) assert.notEqual(answer.body, 'rewritten', name)
  assert.match(answers.page.body, /^<!doctype html>/)
  assert.deepEqual((answers.list.json() as { plugins: Array<{ name: string }> }).plugins.map((plugin) => plugin.name), ['pages', 'rewrite'])
  assert.equal((answers.unknown.json() as { code: string }).code, 'PLUGINKIT_ERR_NOT_FOUND')
  assert.deepEqual(globalThis.__isolation.after, [])
})

test('a teardown_request that throws is not called for admin requests, so it cannot get a plugin quarantined through the admin', async () => {
  const instance = await app({
    fragile: `return { hep: { teardown_request: ${counted('teardown', "throw new Error('teardown broke')")} } }`
  }, true)
  await adminAnswers(instance)
  await adminAnswers(instance)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(globalThis.__isolation.teardown, [])
  const fragile = instance.pluginKit.get('fragile')
  assert.equal(fragile.stats.hookErrors, 0)
  assert.equal(fragile.state, 'enabled', 'admin traffic never quarantines a plugin')

  assert.equal((await instance.inject('/')).body, 'hello world', 'a failing teardown never changes the answer')
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(globalThis.__isolation.teardown, ['/'], 'host requests still get it')
  assert.equal(instance.pluginKit.get('fragile').stats.hookErrors, 1)
})

test('a plugin error handler for every status and Error answers the host\'s errors, never the admin\'s', async () => {
  const instance = await app({
    trap: `const handler = (error, request, reply) => reply.code(418).send({ trapped: true })
      return { errhandler: [{ error: Error, handler }, ...[400, 401, 403, 404, 409, 413, 415, 500, 503].map((error) => ({ error, handler }))] }`,
    thrower: "return { vep: { method: 'GET', url: '/boom', handler: async () => { throw new Error('boom') } } }"
  })
  assert.equal((await instance.inject('/boom')).statusCode, 418, 'the trap answers a plugin route\'s error')
  assert.equal((await instance.inject('/nowhere')).statusCode, 418, 'and the host\'s not-found')

  const answers = await adminAnswers(instance)
  assert.deepEqual(Object.values(answers).map((answer) => answer.statusCode), [200, 200, 404, 401, 415])
  for (const [name, answer] of Object.entries(answers)) assert.doesNotMatch(answer.body, /trapped/, name)
  const badJson = await instance.inject({ method: 'POST', url: '/pluginkit/api/plugins/trap/disable', headers: json, payload: '{' })
  assert.equal(badJson.statusCode, 400)
  assert.doesNotMatch(badJson.body, /trapped/)
  const form = await instance.inject({
    method: 'POST', url: '/pluginkit/plugins/nope/disable', headers: { ...secret, 'content-type': 'application/x-www-form-urlencoded' }, payload: ''
  })
  assert.equal(form.statusCode, 404, 'a failed form post shows the page with the error')
  assert.match(form.body, /disable nope failed \(HTTP 404\)/)
  assert.doesNotMatch(form.body, /trapped/)
})

test('hooks of every phase together: the admin works as if no plugin had any', async () => {
  const instance = await app({
    all: `return { hep: {
      before_request: ${counted('before', "if (request.headers['x-block']) return reply.code(503).send('blocked')")},
      after_request: ${counted('after', "return typeof payload === 'string' ? payload.toUpperCase() : undefined")},
      teardown_request: ${counted('teardown', '')}
    } }`
  })
  const blocked = await instance.inject({ url: '/pluginkit/api/plugins', headers: { ...secret, 'x-block': '1' } })
  assert.equal(blocked.statusCode, 200)
  assert.equal((blocked.json() as { plugins: unknown[] }).plugins.length, 2)
  const page = await instance.inject({ url: '/pluginkit/', headers: secret })
  assert.match(page.body, /<!doctype html>/, 'not upper-cased')
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(globalThis.__isolation, { before: [], after: [], teardown: [] })

  assert.equal((await instance.inject({ url: '/', headers: { 'x-block': '1' } })).statusCode, 503)
  assert.equal((await instance.inject('/')).body, 'HELLO WORLD')
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(globalThis.__isolation.before, ['/', '/'])
})
