// Issue 5.2: request-time faults. A plugin's before_request / after_request hook or route
// that throws or rejects answers that one request through the app's error handling; other
// requests in flight, other plugins and the connection itself are unaffected. A tep
// contribution that throws renders as ''.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { captureLogs, ERROR, httpRequest } from './helpers-views.ts'

// `faulty` fails in every way a plugin can at request time, selected by URL.
const faulty = pluginSource({ name: 'faulty' }, `
  const fail = (request, phase) => {
    const url = request.url
    if (url.endsWith('/' + phase + '-throw')) throw new Error(phase + ' threw')
    if (url.endsWith('/' + phase + '-reject')) return Promise.reject(new Error(phase + ' rejected'))
    if (url.endsWith('/' + phase + '-string')) throw phase + ' threw a string'
  }
  const failedOnce = new WeakSet()
  return {
    bep: { prefix: '/faulty', blueprint: async (app) => {
      app.get('/ok', async () => ({ plugin: 'faulty' }))
      app.get('/route-throw', () => { throw new Error('route threw') })
      app.get('/route-reject', async () => { await null; throw new Error('route rejected') })
      app.get('/route-string', async () => { throw 'route threw a string' })
      app.get('/route-status', async () => { throw Object.assign(new Error('teapot'), { statusCode: 418 }) })
      app.get('/before-throw', async () => 'unreachable')
      app.get('/before-reject', async () => 'unreachable')
      app.get('/after-throw', async () => 'payload')
      app.get('/after-reject', async () => 'payload')
      app.get('/before-string', async () => 'unreachable')
      app.get('/after-string', async () => 'payload')
      app.get('/teardown-throw', async () => ({ plugin: 'faulty', teardown: 'fails' }))
    } },
    vep: { method: 'GET', url: '/faulty-vep', handler: async () => { throw new Error('vep rejected') } },
    cvep: { prefix: '/faulty-view', controller: class { index () { throw new Error('class view threw') } } },
    hep: {
      before_request: (request) => fail(request, 'before'),
      // Fails once per request: the error answer's own onSend pass goes through.
      after_request: (request) => {
        if (failedOnce.has(request)) return undefined
        failedOnce.add(request)
        return fail(request, 'after')
      },
      teardown_request: (request) => { if (request.url.endsWith('/teardown-throw')) throw new Error('teardown threw') }
    },
    tep: { box: ['{{ explode() }}', { code: '<faulty-ok/>', order: 2 }] }
  }`)

const healthy = pluginSource({ name: 'healthy' }, `
  return {
    bep: { prefix: '/healthy', blueprint: async (app) => { app.get('/', async (request) => ({ plugin: 'healthy', q: request.query.n })) } },
    hep: {
      before_request: (request, reply) => { reply.header('x-healthy-before', '1') },
      after_request: (request, reply) => { reply.header('x-healthy-after', '1') }
    },
    tep: { box: { code: '<healthy-{{ n }}/>', order: 1 } }
  }`)

/** [url, status, message] of every fault the faulty plugin raises. */
const faults: Array<[string, number, string]> = [
  ['/faulty/route-throw', 500, 'route threw'],
  ['/faulty/route-reject', 500, 'route rejected'],
  ['/faulty/route-status', 418, 'teapot'],
  ['/faulty-vep', 500, 'vep rejected'],
  ['/faulty-view/', 500, 'class view threw'],
  ['/faulty/before-throw', 500, 'before threw'],
  ['/faulty/before-reject', 500, 'before rejected'],
  ['/faulty/after-throw', 500, 'after threw'],
  ['/faulty/after-reject', 500, 'after rejected'],
  // Hooks fail for host routes and unknown URLs too (the not-found answer keeps its status).
  ['/host/before-throw', 500, 'before threw'],
  ['/nowhere/after-reject', 404, 'after rejected']
]

async function tree () {
  return makeTree({ 'plugins/faulty/index.mjs': faulty, 'plugins/healthy/index.mjs': healthy })
}

function hostRoutes (app: FastifyInstance): void {
  app.get('/host/before-throw', async () => 'unreachable')
  app.get('/slots', async (request) => app.pluginKit.emitTep('box', { n: (request.query as { n?: string }).n }))
}

function assertHealthy (response: { statusCode: number, headers: Record<string, unknown>, json: () => unknown }, n: number): void {
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { plugin: 'healthy', q: String(n) })
  assert.equal(response.headers['x-healthy-before'], '1')
  assert.equal(response.headers['x-healthy-after'], '1')
}

test('each failing hook or route answers its own request through the default error handling', async () => {
  const app = await buildApp(await tree())
  hostRoutes(app)
  await app.ready()
  for (const [url, status, message] of faults) {
    const response = await app.inject(url)
    assert.equal(response.statusCode, status, url)
    assert.match(String(response.headers['content-type']), /^application\/json/, url)
    const error = ({ 404: 'Not Found', 418: "I'm a Teapot", 500: 'Internal Server Error' } as Record<number, string>)[status]
    assert.deepEqual(response.json(), { statusCode: status, error, message }, url)
  }
  // Thrown non-Errors are answered too (Fastify's default for a non-Error is a 500).
  for (const url of ['/faulty/route-string', '/faulty/before-string', '/faulty/after-string']) {
    const response = await app.inject(url)
    assert.equal(response.statusCode, 500, url)
  }
  // A failing teardown never touches the response.
  const teardown = await app.inject('/faulty/teardown-throw')
  assert.equal(teardown.statusCode, 200)
  assert.deepEqual(teardown.json(), { plugin: 'faulty', teardown: 'fails' })
  // Everything else still works.
  assert.deepEqual((await app.inject('/faulty/ok')).json(), { plugin: 'faulty' })
  assertHealthy(await app.inject('/healthy?n=1'), 1)
  assert.equal((await app.inject('/')).body, 'hello world')
  // Errors are counted against the plugin whose hook failed, never against the other one.
  assert.ok(app.pluginKit.get('faulty').stats.hookErrors >= 6)
  assert.equal(app.pluginKit.get('healthy').stats.hookErrors, 0)
  assert.equal(app.pluginKit.get('faulty').state, 'enabled', 'without quarantine a failing plugin stays enabled')
})

test('failures go through the host\'s own error handler, and are logged', async () => {
  const logs = captureLogs()
  const app = await buildApp(await tree(), {}, {
    fastify: logs.fastifyOptions,
    setup: (host) => host.setErrorHandler((error: Error, _request, reply) => reply.code(599).send({ host: 'handled', message: error.message }))
  })
  hostRoutes(app)
  await app.ready()
  for (const [url, , message] of faults) {
    const response = await app.inject(url)
    assert.equal(response.statusCode, 599, url)
    assert.deepEqual(response.json(), { host: 'handled', message }, url)
  }
  assertHealthy(await app.inject('/healthy?n=2'), 2)
  // The failing teardown is logged at error level with the plugin's name.
  await app.inject('/faulty/teardown-throw')
  await new Promise((resolve) => setImmediate(resolve))
  const teardown = logs.lines.find((line) => line.level >= ERROR && JSON.stringify(line).includes('teardown threw'))
  assert.ok(teardown !== undefined, 'the teardown failure is logged')
  assert.equal(teardown.plugin, 'faulty')
})

test('a throwing tep contribution renders as \'\' while the others render, request after request', async () => {
  const logs = captureLogs()
  const app = await buildApp(await tree(), {}, { fastify: logs.fastifyOptions })
  hostRoutes(app)
  await app.ready()
  const answers = await Promise.all(Array.from({ length: 20 }, (_unused, n) => app.inject(`/slots?n=${n}`)))
  answers.forEach((response, n) => {
    assert.equal(response.statusCode, 200)
    assert.equal(response.body, `<healthy-${n}/><faulty-ok/>`)
  })
  assert.equal(app.pluginKit.emitTep('box', { n: 'x' }), '<healthy-x/><faulty-ok/>')
  const logged = logs.lines.filter((line) => line.level >= ERROR && line.plugin === 'faulty')
  assert.ok(logged.length >= 20, `each failed render is logged with the plugin name (${logged.length})`)
})

test('over real sockets: faults interleaved with good requests on shared keep-alive connections affect nothing else', async () => {
  const app = await buildApp(await tree())
  hostRoutes(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const agent = new Agent({ keepAlive: true, maxSockets: 8 })
  after(() => agent.destroy())

  const sockets = new Set<unknown>()
  app.server.on('connection', (socket) => sockets.add(socket))
  const jobs: Array<Promise<void>> = []
  for (let n = 0; n < 300; n++) {
    const fault = faults[n % faults.length] as [string, number, string]
    if (n % 3 === 0) {
      jobs.push(httpRequest(port, `/healthy?n=${n}`, { agent }).then((response) => {
        assertHealthy({ statusCode: response.status, headers: response.headers, json: () => JSON.parse(response.body) }, n)
      }))
    } else if (n % 3 === 1) {
      jobs.push(httpRequest(port, fault[0], { agent }).then((response) => {
        assert.equal(response.status, fault[1], fault[0])
        assert.equal((JSON.parse(response.body) as { message: string }).message, fault[2])
      }))
    } else {
      jobs.push(httpRequest(port, n % 2 === 0 ? '/faulty/ok' : '/faulty/teardown-throw', { agent }).then((response) => {
        assert.equal(response.status, 200)
        assert.equal((JSON.parse(response.body) as { plugin: string }).plugin, 'faulty')
      }))
    }
  }
  const results = await Promise.allSettled(jobs)
  const failed = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected')
  assert.deepEqual(failed.map((result) => String(result.reason)), [], 'no socket error, every answer as expected')
  // Failing requests did not cost the keep-alive connections: a handful served all 300 requests.
  assert.ok(sockets.size <= 8, `${sockets.size} connections were opened`)
  assert.equal(app.pluginKit.get('healthy').stats.hookErrors, 0)
  assert.equal(app.pluginKit.get('healthy').stats.requests, 100)
})
