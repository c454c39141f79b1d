import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { buildApp, makeTree, pluginSource } from './helpers.ts'
import { logged, probe, until } from './helpers-runtime.ts'

/** A plugin "routes" whose blueprint at /routes logs `handler:routes`. */
const routesPlugin = pluginSource({ name: 'routes' }, `
  return { bep: { prefix: '/routes', blueprint: async (app) => {
    app.get('/', async () => { __log('handler:routes'); return { plugin: 'routes' } })
  } } }`)

test('hep before_request: runs app-wide (host, plugin routes, 404) in load order; undefined continues', async () => {
  const seen = probe()
  const base = await makeTree({
    'plugins/a-first/index.mjs': pluginSource({ name: 'a-first' }, `
      return { hep: { before_request: (request) => { __log('a:' + request.url) } } }`),
    'plugins/b-second/index.mjs': pluginSource({ name: 'b-second' }, `
      return { hep: { before_request: async (request) => { __log('b:' + request.url) } } }`),
    'plugins/routes/index.mjs': routesPlugin
  })
  const app = await buildApp(base)
  await app.ready()

  const host = await app.inject('/')
  assert.equal(host.statusCode, 200)
  assert.equal(host.body, 'hello world')
  const plugin = await app.inject('/routes/')
  assert.equal(plugin.statusCode, 200)
  assert.deepEqual(plugin.json(), { plugin: 'routes' })
  const missing = await app.inject('/nowhere')
  assert.equal(missing.statusCode, 404)

  assert.deepEqual(seen.calls, [
    'a:/', 'b:/',
    'a:/routes/', 'b:/routes/', 'handler:routes',
    'a:/nowhere', 'b:/nowhere'
  ])
})

test('hep: handlers run in load order, which follows dependencies', async () => {
  const seen = probe()
  const hook = (tag: string) => `return { hep: {
    before_request: () => { __log('before:${tag}') },
    after_request: () => { __log('after:${tag}') },
    teardown_request: () => { __log('teardown:${tag}') }
  } }`
  const base = await makeTree({
    // a-needs-c must load after c-base although it sorts first.
    'plugins/a-needs-c/index.mjs': pluginSource({ name: 'a-needs-c', dependencies: ['c-base'] }, hook('a')),
    'plugins/b-free/index.mjs': pluginSource({ name: 'b-free' }, hook('b')),
    'plugins/c-base/index.mjs': pluginSource({ name: 'c-base' }, hook('c'))
  })
  const app = await buildApp(base)
  await app.ready()
  const order = app.pluginKit.plugins.map((plugin) => plugin.name.charAt(0))
  assert.ok(order.indexOf('c') < order.indexOf('a'), `load order ${order.join(',')}`)

  assert.equal((await app.inject('/')).body, 'hello world')
  await until(() => seen.calls.length === 9)
  assert.deepEqual(seen.calls, [
    ...order.map((tag) => `before:${tag}`),
    ...order.map((tag) => `after:${tag}`),
    ...order.map((tag) => `teardown:${tag}`)
  ])
})

test('hep before_request: a returned value ends the request; later handlers and the route do not run', async () => {
  const seen = probe()
  const base = await makeTree({
    'plugins/a-guard/index.mjs': pluginSource({ name: 'a-guard' }, `
      return { hep: { before_request: (request, reply) => {
        __log('guard:' + request.url)
        if (request.url === '/routes/?text') return 'stopped as text'
        if (request.url === '/routes/?json') return { stopped: true, by: 'guard' }
        if (request.url === '/routes/?redirect') return reply.redirect('/limit')
        return undefined
      } } }`),
    'plugins/b-async-guard/index.mjs': pluginSource({ name: 'b-async-guard' }, `
      return { hep: { before_request: async (request) => {
        __log('async-guard:' + request.url)
        await new Promise((resolve) => setImmediate(resolve))
        if (request.url === '/routes/?async') return 'stopped asynchronously'
      } } }`),
    'plugins/c-last/index.mjs': pluginSource({ name: 'c-last' }, `
      return { hep: { before_request: (request) => { __log('last:' + request.url) } } }`),
    'plugins/routes/index.mjs': routesPlugin
  })
  const app = await buildApp(base)
  app.get('/limit', async () => 'the limit page')
  await app.ready()

  const text = await app.inject('/routes/?text')
  assert.equal(text.statusCode, 200)
  assert.equal(text.body, 'stopped as text')
  assert.match(String(text.headers['content-type']), /^text\/plain/)
  assert.deepEqual(seen.calls, ['guard:/routes/?text'])

  seen.calls.length = 0
  const json = await app.inject('/routes/?json')
  assert.equal(json.statusCode, 200)
  assert.match(String(json.headers['content-type']), /^application\/json/)
  assert.deepEqual(json.json(), { stopped: true, by: 'guard' })
  assert.deepEqual(seen.calls, ['guard:/routes/?json'])

  seen.calls.length = 0
  const redirect = await app.inject('/routes/?redirect')
  assert.equal(redirect.statusCode, 302)
  assert.equal(redirect.headers.location, '/limit')
  assert.deepEqual(seen.calls, ['guard:/routes/?redirect'])

  seen.calls.length = 0
  const stoppedAsync = await app.inject('/routes/?async')
  assert.equal(stoppedAsync.statusCode, 200)
  assert.equal(stoppedAsync.body, 'stopped asynchronously')
  assert.deepEqual(seen.calls, ['guard:/routes/?async', 'async-guard:/routes/?async'])

  seen.calls.length = 0
  const through = await app.inject('/routes/?none')
  assert.equal(through.statusCode, 200)
  assert.deepEqual(through.json(), { plugin: 'routes' })
  assert.deepEqual(seen.calls, ['guard:/routes/?none', 'async-guard:/routes/?none', 'last:/routes/?none', 'handler:routes'])

  // A host route goes through the same handlers; none of them stops this one.
  seen.calls.length = 0
  const limit = await app.inject('/limit')
  assert.equal(limit.body, 'the limit page')
  assert.deepEqual(seen.calls, ['guard:/limit', 'async-guard:/limit', 'last:/limit'])
})

test('hep before_request: null ends the request too; so does a reply the handler sent itself', async () => {
  const seen = probe()
  const base = await makeTree({
    'plugins/a-sender/index.mjs': pluginSource({ name: 'a-sender' }, `
      return { hep: { before_request: async (request, reply) => {
        if (request.url === '/null') return null
        if (request.url === '/sent') { reply.code(403).send('forbidden') }
      } } }`),
    'plugins/b-later/index.mjs': pluginSource({ name: 'b-later' }, `
      return { hep: { before_request: (request) => { __log('later:' + request.url) } } }`)
  })
  const app = await buildApp(base)
  app.get('/null', async () => { seen.calls.push('route:/null'); return 'route ran' })
  app.get('/sent', async () => { seen.calls.push('route:/sent'); return 'route ran' })
  await app.ready()
  const nulled = await app.inject('/null')
  assert.equal(nulled.statusCode, 200)
  assert.notEqual(nulled.body, 'route ran')
  const sent = await app.inject('/sent')
  assert.equal(sent.statusCode, 403)
  assert.equal(sent.body, 'forbidden')
  assert.deepEqual(seen.calls, [])
})

test('hep before_request: also short-circuits host routes and unknown URLs', async () => {
  const seen = probe()
  const base = await makeTree({
    'plugins/blocker/index.mjs': pluginSource({ name: 'blocker' }, `
      return { hep: { before_request: (request) => request.headers['x-block'] === undefined ? undefined : 'blocked ' + request.url } }`)
  })
  const app = await buildApp(base)
  app.get('/host', async () => { seen.calls.push('host handler'); return 'host' })
  await app.ready()
  const host = await app.inject({ url: '/host', headers: { 'x-block': '1' } })
  assert.equal(host.statusCode, 200)
  assert.equal(host.body, 'blocked /host')
  const unknown = await app.inject({ url: '/unknown', headers: { 'x-block': '1' } })
  assert.equal(unknown.statusCode, 200)
  assert.equal(unknown.body, 'blocked /unknown')
  assert.deepEqual(seen.calls, [])
  assert.equal((await app.inject('/host')).body, 'host')
  assert.deepEqual(seen.calls, ['host handler'])
})

test('hep after_request: replaces the payload, keeps it on undefined, also runs after a before_request short-circuit', async () => {
  const seen = probe()
  const base = await makeTree({
    'plugins/a-short/index.mjs': pluginSource({ name: 'a-short' }, `
      return { hep: { before_request: (request) => request.url === '/short' ? 'short' : undefined } }`),
    'plugins/b-rewrite/index.mjs': pluginSource({ name: 'b-rewrite' }, `
      return { hep: { after_request: (request, reply, payload) => {
        __log('after:' + request.url + ':' + payload)
        if (request.url === '/upper') return String(payload).toUpperCase()
        if (request.url === '/short') return payload + '!'
        return undefined
      } } }`),
    'plugins/c-async-rewrite/index.mjs': pluginSource({ name: 'c-async-rewrite' }, `
      return { hep: { after_request: async (request, reply, payload) => {
        if (request.url === '/upper') return payload + ' (async)'
      } } }`)
  })
  const app = await buildApp(base)
  app.get('/upper', async () => 'hello')
  app.get('/keep', async () => ({ kept: true }))
  await app.ready()

  const upper = await app.inject('/upper')
  assert.equal(upper.statusCode, 200)
  assert.equal(upper.body, 'HELLO (async)')

  const keep = await app.inject('/keep')
  assert.equal(keep.statusCode, 200)
  assert.deepEqual(keep.json(), { kept: true })
  assert.ok(seen.calls.includes('after:/keep:{"kept":true}'), 'after_request receives the serialized payload')

  const short = await app.inject('/short')
  assert.equal(short.statusCode, 200)
  assert.equal(short.body, 'short!')
  assert.ok(seen.calls.includes('after:/short:short'))
})

test('hep teardown_request: runs after the response; what it throws is never sent', async () => {
  const seen = probe()
  const base = await makeTree({
    'plugins/a-teardown/index.mjs': pluginSource({ name: 'a-teardown' }, `
      return { hep: { teardown_request: (request, reply) => {
        __log('teardown:' + request.url + ':' + reply.statusCode + ':' + reply.sent)
        if (request.url === '/throw-sync') throw new Error('teardown failed')
        if (request.url === '/throw-async') return Promise.reject(new Error('teardown failed'))
      } } }`),
    'plugins/b-after/index.mjs': pluginSource({ name: 'b-after' }, `
      return { hep: { teardown_request: async (request) => { __log('teardown-b:' + request.url) } } }`)
  })
  const app = await buildApp(base)
  app.get('/throw-sync', async () => 'sync body')
  app.get('/throw-async', async () => 'async body')
  await app.ready()

  const ok = await app.inject('/')
  assert.equal(ok.body, 'hello world')
  await logged(seen, 'teardown-b:/')
  assert.ok(seen.calls.includes('teardown:/:200:true'), 'teardown sees the sent reply')

  for (const url of ['/throw-sync', '/throw-async']) {
    const response = await app.inject(url)
    assert.equal(response.statusCode, 200)
    assert.equal(response.body, url === '/throw-sync' ? 'sync body' : 'async body')
    await logged(seen, `teardown-b:${url}`)
  }
  await logged(seen, 'teardown:/throw-async:200:true')
  const stats = app.pluginKit.get('a-teardown').stats
  assert.equal(stats.hookErrors, 2)
  assert.equal(stats.hookCalls, 3)
  assert.equal(app.pluginKit.get('b-after').stats.hookErrors, 0)
  assert.equal((await app.inject('/')).statusCode, 200)
})

test('hep teardown_request: a failure is logged with the plugin name', async () => {
  const seen = probe()
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, callback) { lines.push(String(chunk)); callback() } })
  const base = await makeTree({
    'plugins/a-fails/index.mjs': pluginSource({ name: 'a-fails' }, `
      return { hep: { teardown_request: () => { throw new Error('teardown kaput') } } }`),
    'plugins/b-marks/index.mjs': pluginSource({ name: 'b-marks' }, `
      return { hep: { teardown_request: (request) => { __log('done:' + request.url) } } }`)
  })
  const app = await buildApp(base, {}, { fastify: { logger: { level: 'error', stream } } })
  await app.ready()
  const response = await app.inject('/')
  assert.equal(response.statusCode, 200)
  assert.equal(response.body, 'hello world')
  await logged(seen, 'done:/')
  const entries = lines.map((line) => JSON.parse(line) as { level: number, msg?: string, err?: { message?: string } })
  const entry = entries.find((candidate) => candidate.err?.message === 'teardown kaput')
  assert.ok(entry !== undefined, `an error entry is logged: ${lines.join('')}`)
  assert.ok(JSON.stringify(entry).includes('a-fails'), 'the entry names the plugin')
})

test('hep before_request: a throwing or rejecting handler answers through the app error handling (500); others keep working', async () => {
  const seen = probe()
  const base = await makeTree({
    'plugins/a-bad/index.mjs': pluginSource({ name: 'a-bad' }, `
      return { hep: { before_request: (request) => {
        if (request.url === '/boom-sync') throw new Error('sync hook failure')
        if (request.url === '/boom-async') return Promise.reject(new Error('async hook failure'))
      } } }`),
    'plugins/b-good/index.mjs': pluginSource({ name: 'b-good' }, `
      return { hep: { before_request: (request) => { __log('good:' + request.url) } } }`),
    'plugins/routes/index.mjs': routesPlugin
  })
  const app = await buildApp(base)
  app.get('/boom-sync', async () => { seen.calls.push('route ran'); return 'no' })
  app.get('/boom-async', async () => { seen.calls.push('route ran'); return 'no' })
  await app.ready()

  for (const [url, message] of [['/boom-sync', 'sync hook failure'], ['/boom-async', 'async hook failure']] as const) {
    const response = await app.inject(url)
    assert.equal(response.statusCode, 500)
    assert.match(String(response.headers['content-type']), /^application\/json/)
    assert.deepEqual(response.json(), { statusCode: 500, error: 'Internal Server Error', message })
  }
  assert.ok(!seen.calls.includes('route ran'))
  assert.ok(!seen.calls.some((entry) => entry.startsWith('good:/boom')), 'later before_request handlers do not run')

  assert.equal((await app.inject('/')).body, 'hello world')
  assert.deepEqual((await app.inject('/routes/')).json(), { plugin: 'routes' })
  assert.equal(app.pluginKit.get('a-bad').stats.hookErrors, 2)
  assert.equal(app.pluginKit.get('b-good').stats.hookErrors, 0)
})

test('hep before_request: a failing handler goes through the host\'s own error handler', async () => {
  const base = await makeTree({
    'plugins/bad/index.mjs': pluginSource({ name: 'bad' }, `
      return { hep: { before_request: (request) => { if (request.url === '/fail') throw new Error('hook failure') } } }`)
  })
  const app = await buildApp(base, {}, {
    setup (host) {
      host.setErrorHandler((error: Error, _request, reply) => {
        reply.code(418).send({ host: true, message: error.message })
      })
    }
  })
  app.get('/fail', async () => 'never')
  await app.ready()
  const response = await app.inject('/fail')
  assert.equal(response.statusCode, 418)
  assert.deepEqual(response.json(), { host: true, message: 'hook failure' })
})

test('hep: stats count hook calls and errors per plugin', async () => {
  const seen = probe()
  const base = await makeTree({
    'plugins/counted/index.mjs': pluginSource({ name: 'counted' }, `
      return { hep: {
        before_request: (request) => { if (request.url === '/fail') throw new Error('x') },
        after_request: async () => undefined,
        teardown_request: () => { __log('teardown') }
      } }`),
    'plugins/quiet/index.mjs': pluginSource({ name: 'quiet' }, 'return {}')
  })
  const app = await buildApp(base)
  await app.ready()
  const before = app.pluginKit.get('counted').stats
  assert.equal(before.hookCalls, 0)
  assert.equal(before.hookErrors, 0)

  for (let index = 0; index < 3; index++) assert.equal((await app.inject('/')).statusCode, 200)
  assert.equal((await app.inject('/fail')).statusCode, 500)
  // Teardown of the last request may finish after inject resolves.
  await until(() => seen.calls.length === 4)

  const stats = app.pluginKit.get('counted').stats
  // Every request, the failed one included (its error page goes through onSend): before + after + teardown.
  assert.equal(stats.hookCalls, 12)
  assert.equal(stats.hookErrors, 1)
  assert.equal(typeof stats.meanHookMs, 'number')
  assert.ok(stats.meanHookMs >= 0)
  assert.deepEqual(app.pluginKit.get('quiet').stats, { requests: 0, hookCalls: 0, hookErrors: 0, meanHookMs: 0 })
})

test('hep: stats stay exact past the timing sample, and meanHookMs reflects a slow handler', async () => {
  const base = await makeTree({
    'plugins/slow/index.mjs': pluginSource({ name: 'slow' }, `
      const spin = (ms) => { const end = performance.now() + ms; while (performance.now() < end); }
      return { hep: {
        before_request: () => { spin(1) },
        after_request: async () => { spin(1) }
      } }`)
  })
  const app = await buildApp(base)
  await app.ready()
  // More requests than the 128 always timed, so the 1-in-64 sampling is in play.
  const requests = 200
  for (let index = 0; index < requests; index++) assert.equal((await app.inject('/')).statusCode, 200)
  const stats = app.pluginKit.get('slow').stats
  assert.equal(stats.hookCalls, 2 * requests)
  assert.ok(stats.meanHookMs >= 0.9, `meanHookMs ${stats.meanHookMs} should be about 1 ms`)
  assert.ok(stats.meanHookMs < 50, `meanHookMs ${stats.meanHookMs} should be about 1 ms`)
})
