// Issue 11, items 1-4: whatever a plugin's request hook returns, throws or rejects with costs
// at most that one request; a failing before_request fails closed and cannot be used by
// clients to switch a guard off; quarantine counts only the plugin's own failures.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import Fastify from 'fastify'
import pluginKit from 'fastify-pluginkit'
import { buildApp, pluginSource, makeTree } from './helpers.ts'
import { assertKitError, readyError } from './helpers-loading.ts'
import { eventually } from './helpers-runtime.ts'

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, version: '1.0.0', author: 'tester', ...extra })

type Phase = 'before' | 'after' | 'teardown'
type Mode = 'return' | 'resolve' | 'throw' | 'reject'
interface Behaviour { phase: Phase, mode: Mode, value: unknown }

/** The plugins read what to do from here; undefined: behave. */
const control = globalThis as unknown as { __hardening?: Behaviour, __routeRuns: number }

// One plugin whose three hooks misbehave on demand, in every way selected by `__hardening`.
const chaos = pluginSource(meta('chaos'), `
  // A Proxy that throws on every look is made here: fast-check itself would trip over it.
  const hostile = () => new Proxy({}, {
    get () { throw new Error('trap') },
    getPrototypeOf () { throw new Error('trap') },
    has () { throw new Error('trap') },
    ownKeys () { throw new Error('trap') }
  })
  // A real Error whose statusCode getter throws: it passes every instanceof check.
  const hostileError = () => Object.defineProperty(new Error('hostile'), 'statusCode', { get () { throw new Error('trap') } })
  const act = (phase) => {
    const b = globalThis.__hardening
    if (b === undefined || b.phase !== phase) return undefined
    const value = b.value === 'HOSTILE_PROXY' ? hostile() : b.value === 'HOSTILE_ERROR' ? hostileError() : b.value
    switch (b.mode) {
      case 'return': return value
      case 'resolve': return Promise.resolve(value)
      case 'throw': throw value
      default: return Promise.reject(value)
    }
  }
  return { hep: {
    before_request: () => act('before'),
    after_request: () => act('after'),
    teardown_request: () => act('teardown')
  } }`)

/** Values a plugin may produce: anything fast-check makes, plus the awkward cases by hand. */
function awkwardValues (): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withTypedArray: true,
      withDate: true,
      withSparseArray: true
    }),
    fc.constantFrom<unknown>(undefined, null, false, 0, '', Number.NaN, 10n, Symbol('s'), new Error('plain'),
      Object.assign(new Error('teapot'), { statusCode: 418 }), { statusCode: 401, message: 'no' }, { then: 5 },
      { toJSON () { throw new Error('toJSON') } }, Buffer.from('buffer'), new Uint8Array([1, 2]), () => 'fn', 'HOSTILE_PROXY', 'HOSTILE_ERROR',
      Object.create(null), [1, 2], new Map([[1, 2]]))
  )
}

/**
 * An app hosting `chaos`, with a host route that counts its runs. Quarantine counts every
 * phase's failures (reading the errors as it does) but never reaches its threshold.
 */
async function chaosApp () {
  const base = await makeTree({ 'plugins/chaos/index.mjs': chaos })
  // A real logger too: pino reads every error the kit logs (its stack, its cause, its keys).
  const app = await buildApp(base, { quarantine: { maxErrors: 1_000_000, windowMs: 60_000, countBeforeRequest: ['chaos'] } }, {
    fastify: { logger: { level: 'error', stream: { write: () => {} } } }
  })
  control.__routeRuns = 0
  app.get('/route', async () => {
    control.__routeRuns++
    return 'ok'
  })
  await app.ready()
  return app
}

test('property: any value returned, thrown or rejected by any hook, sync or async, costs at most that request', { timeout: 120_000 }, async () => {
  const app = await chaosApp()

  const escaped: unknown[] = []
  const onEscape = (error: unknown) => { escaped.push(error) }
  process.on('unhandledRejection', onEscape)
  process.on('uncaughtException', onEscape)
  try {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom<Phase>('before', 'after', 'teardown'),
      fc.constantFrom<Mode>('return', 'resolve', 'throw', 'reject'),
      awkwardValues(),
      async (phase, mode, value) => {
        control.__hardening = { phase, mode, value }
        const runsBefore = control.__routeRuns
        const faulty = await app.inject('/route')
        control.__hardening = undefined
        // Let any continuation that would escape run before judging.
        await new Promise((resolve) => setImmediate(resolve))

        assert.ok(faulty.statusCode >= 200 && faulty.statusCode <= 599, `a response (${faulty.statusCode})`)
        const failing = mode === 'throw' || mode === 'reject'
        if (phase === 'before' && failing) {
          // Fails closed: an error status, and the route never ran.
          assert.ok(faulty.statusCode >= 400, `a failing before_request answers an error, got ${faulty.statusCode}`)
          assert.equal(control.__routeRuns, runsBefore, 'the guarded route did not run')
        }
        if (phase === 'before' && !failing && value !== undefined) assert.equal(control.__routeRuns, runsBefore, 'a returned value ends the request')
        if (phase === 'after' && failing) assert.ok(faulty.statusCode >= 400, `a failing after_request answers an error, got ${faulty.statusCode}`)
        if (phase === 'teardown') assert.equal(faulty.body, 'ok', 'teardown never changes the response')

        const next = await app.inject('/route')
        assert.equal(next.statusCode, 200)
        assert.equal(next.body, 'ok')
        assert.deepEqual(escaped, [], 'nothing escaped to the process')
      }
    ), { numRuns: 400 })
  } finally {
    process.off('unhandledRejection', onEscape)
    process.off('uncaughtException', onEscape)
    control.__hardening = undefined
  }
  assert.equal(app.pluginKit.get('chaos').state, 'enabled')
})

test('an Error whose statusCode getter throws, thrown or rejected in any phase with quarantine counting: that request fails, nothing escapes', async () => {
  const app = await chaosApp()
  const escaped: unknown[] = []
  const onEscape = (error: unknown) => { escaped.push(error) }
  process.on('unhandledRejection', onEscape)
  process.on('uncaughtException', onEscape)
  const answers: Record<string, string> = {}
  try {
    for (const phase of ['before', 'after', 'teardown'] as const) {
      for (const mode of ['throw', 'reject'] as const) {
        control.__hardening = { phase, mode, value: 'HOSTILE_ERROR' }
        const response = await app.inject('/route')
        control.__hardening = undefined
        await new Promise((resolve) => setImmediate(resolve))
        answers[`${phase} ${mode}`] = `${response.statusCode} ${response.body.includes('hostile') || response.body === 'ok' ? 'ok' : response.body}`
      }
    }
  } finally {
    process.off('unhandledRejection', onEscape)
    process.off('uncaughtException', onEscape)
    control.__hardening = undefined
  }
  assert.deepEqual(escaped, [], 'nothing escaped to the process')
  assert.deepEqual(answers, {
    'before throw': '500 ok',
    'before reject': '500 ok',
    'after throw': '500 ok',
    'after reject': '500 ok',
    'teardown throw': '200 ok',
    'teardown reject': '200 ok'
  })
  assert.equal((await app.inject('/route')).body, 'ok')
  assert.equal(app.pluginKit.get('chaos').state, 'enabled')
})

test('a falsy thrown or rejected value fails closed with FST_ERR_SEND_UNDEFINED_ERR, in before_request and after_request', async () => {
  const app = await chaosApp()
  try {
    for (const phase of ['before', 'after'] as const) {
      for (const mode of ['throw', 'reject'] as const) {
        for (const value of [undefined, null, false, 0, '']) {
          control.__routeRuns = 0
          control.__hardening = { phase, mode, value }
          const response = await app.inject('/route')
          const label = `${phase} ${mode} ${String(value)}`
          assert.equal(response.statusCode, 500, label)
          assert.equal(response.json().code, 'FST_ERR_SEND_UNDEFINED_ERR', label)
          assert.equal(control.__routeRuns, phase === 'before' ? 0 : 1, `${label}: the route ran only if the guard passed`)
        }
      }
    }
  } finally {
    control.__hardening = undefined
  }
})

test('an after_request replacement Fastify cannot send is a 500 naming the plugin, sync and async, and counts against it', async () => {
  const base = await makeTree({ 'plugins/chaos/index.mjs': chaos })
  const app = await buildApp(base)
  app.get('/route', async () => 'ok')
  await app.ready()
  try {
    for (const mode of ['return', 'resolve'] as const) {
      for (const value of [{ a: 1 }, 42, true, [1], 10n]) {
        control.__hardening = { phase: 'after', mode, value }
        const errorsBefore = app.pluginKit.get('chaos').stats.hookErrors
        const response = await app.inject('/route')
        assert.equal(response.statusCode, 500, `${mode} ${typeof value}`)
        assert.equal(response.json().code, 'PLUGINKIT_ERR_EXTENSION_POINT')
        assert.match(response.json().message, /plugin "chaos": hep\.after_request: returned/)
        // Counted (the error response passes through after_request too, and fails again).
        assert.ok(app.pluginKit.get('chaos').stats.hookErrors > errorsBefore)
      }
    }
    // Payloads Fastify accepts still replace the response.
    for (const [value, body] of [['replaced', 'replaced'], [Buffer.from('buffer'), 'buffer'], [null, '']] as const) {
      control.__hardening = { phase: 'after', mode: 'resolve', value }
      const response = await app.inject('/route')
      assert.equal(response.statusCode, 200)
      assert.equal(response.body, body)
    }
  } finally {
    control.__hardening = undefined
  }
})

// An auth-style guard: throws (a 500, not a 401) on a token it cannot parse.
const guard = pluginSource(meta('guard'), `return {
  hep: { before_request: (request) => {
    if (!request.url.startsWith('/private')) return undefined
    const token = request.headers['x-token']
    if (token === 'good') return undefined
    JSON.parse(String(token)) // garbage throws a SyntaxError
    return { error: 'forbidden' }
  } }
}`)

test('clients cannot switch a guard off: a failing before_request fails closed and is not counted by default', async () => {
  const base = await makeTree({ 'plugins/guard/index.mjs': guard })
  const app = await buildApp(base, { quarantine: { maxErrors: 3, windowMs: 60_000 } })
  app.get('/private', async () => 'secret')
  await app.ready()
  for (let index = 0; index < 30; index++) {
    const response = await app.inject({ url: '/private', headers: { 'x-token': `garbage{${index}` } })
    assert.equal(response.statusCode, 500)
    assert.doesNotMatch(response.body, /secret/)
  }
  await new Promise((resolve) => setTimeout(resolve, 50))
  const info = app.pluginKit.get('guard')
  assert.equal(info.state, 'enabled', 'the guard is still on')
  assert.equal(info.quarantined, undefined)
  assert.equal(info.stats.hookErrors, 30, 'the failures are still visible in the statistics')
  assert.equal((await app.inject({ url: '/private', headers: { 'x-token': 'garbage{' } })).statusCode, 500)
  assert.equal((await app.inject({ url: '/private', headers: { 'x-token': 'good' } })).body, 'secret')
})

test('a host may opt a plugin\'s before_request in to quarantine with countBeforeRequest', async () => {
  const base = await makeTree({ 'plugins/guard/index.mjs': guard })
  const app = await buildApp(base, { quarantine: { maxErrors: 3, windowMs: 60_000, countBeforeRequest: ['guard'] } })
  app.get('/private', async () => 'secret')
  await app.ready()
  for (let index = 0; index < 3; index++) await app.inject({ url: '/private', headers: { 'x-token': 'garbage{' } })
  assert.ok(await eventually(() => app.pluginKit.get('guard').state === 'disabled'), 'quarantined once opted in')
  assert.match(app.pluginKit.get('guard').quarantined?.reason ?? '', /3 errors/)
})

test('an invalid countBeforeRequest is PLUGINKIT_ERR_INVALID_OPTION', async () => {
  const base = await makeTree({})
  for (const countBeforeRequest of ['guard', [1], [''], {}]) {
    await assert.rejects(async () => {
      const app = await buildApp(base, { quarantine: { maxErrors: 3, windowMs: 1000, countBeforeRequest: countBeforeRequest as string[] } })
      await app.ready()
    }, (error: Error & { code?: string }) => error.code === 'PLUGINKIT_ERR_INVALID_OPTION' && /countBeforeRequest/.test(error.message))
  }
})

// A plugin route with a dependent, used to show that the host's failures on it are not the plugin's.
const owned = {
  'plugins/owned/index.mjs': pluginSource(meta('owned'), `return {
    bep: { prefix: '/owned', blueprint: async (app) => {
      app.get('/', async () => ({ plugin: 'owned' }))
      app.post('/echo', async (request) => request.body)
      app.get('/boom', async () => { throw new Error('owned boom') })
      app.get('/sync-boom', () => { throw new Error('owned sync boom') })
    } },
    vep: { method: 'GET', url: '/owned-vep/boom', handler: async () => { throw new Error('owned vep boom') } }
  }`),
  'plugins/reader/index.mjs': pluginSource(meta('reader', { dependencies: ['owned'] }), `return {
    vep: { method: 'GET', url: '/reader', handler: async () => 'reader' }
  }`)
}

test('the host\'s failures on a plugin\'s routes never count against the plugin (preHandler, content-type parser, hooks)', async () => {
  const base = await makeTree(owned)
  // The host's hooks and parser exist before the kit registers, so the plugins' contexts inherit them.
  const app = Fastify({ logger: false })
  after(() => app.close())
  app.addHook('preHandler', async (request) => { if (request.headers['x-host-fail'] === 'prehandler') throw new Error('host preHandler') })
  app.addHook('onRequest', async (request) => { if (request.headers['x-host-fail'] === 'onrequest') throw new Error('host onRequest') })
  app.addHook('preSerialization', async (request) => { if (request.headers['x-host-fail'] === 'serialization') throw new Error('host preSerialization') })
  app.addHook('onSend', async (request) => { if (request.headers['x-host-fail'] === 'onsend') throw new Error('host onSend') })
  app.addContentTypeParser('application/x-host', (_request, _payload, done) => done(new Error('host parser')))
  await app.register(pluginKit, { pluginsBase: base, store: 'memory', quarantine: { maxErrors: 2, windowMs: 60_000 } })
  await app.ready()
  for (const kind of ['prehandler', 'onrequest', 'serialization', 'onsend']) {
    for (let index = 0; index < 4; index++) {
      const response = await app.inject({ url: '/owned/', headers: { 'x-host-fail': kind } })
      assert.equal(response.statusCode, 500, kind)
    }
  }
  for (let index = 0; index < 4; index++) {
    const response = await app.inject({ method: 'POST', url: '/owned/echo', headers: { 'content-type': 'application/x-host' }, payload: 'x' })
    assert.equal(response.statusCode, 500, 'parser')
  }
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(app.pluginKit.get('owned').state, 'enabled', 'owned was not blamed')
  assert.equal(app.pluginKit.get('reader').state, 'enabled', 'no cascade to its dependent')

  // Its own handler's failures (async and sync, blueprint and vep) still count.
  for (const url of ['/owned/boom', '/owned/sync-boom']) assert.equal((await app.inject(url)).statusCode, 500)
  assert.ok(await eventually(() => app.pluginKit.get('owned').state === 'disabled'), 'owned quarantined by its own errors')
  assert.match(app.pluginKit.get('owned').quarantined?.reason ?? '', /owned (sync )?boom/)
  assert.equal(app.pluginKit.get('reader').state, 'disabled', 'its dependent is disabled with it')
})

test('a plugin route\'s own vep handler failures count; a host route never counts against any plugin', async () => {
  const base = await makeTree(owned)
  const app = await buildApp(base, { quarantine: { maxErrors: 2, windowMs: 60_000 } })
  app.get('/host-boom', async () => { throw new Error('host boom') })
  await app.ready()
  for (let index = 0; index < 5; index++) assert.equal((await app.inject('/host-boom')).statusCode, 500)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(app.pluginKit.get('owned').state, 'enabled')
  for (let index = 0; index < 2; index++) assert.equal((await app.inject('/owned-vep/boom')).statusCode, 500)
  assert.ok(await eventually(() => app.pluginKit.get('owned').state === 'disabled'), 'quarantined by its vep handler')
})

test('a plugin route throwing or rejecting with an Error whose statusCode getter throws answers 500 (Fastify alone answers 200) and counts against the plugin', async () => {
  const routes = pluginSource(meta('routes'), `
    const hostileError = () => Object.defineProperty(new Error('hostile'), 'statusCode', { get () { throw new Error('trap') } })
    return { vep: [
      { method: 'GET', url: '/sync', handler: () => { throw hostileError() } },
      { method: 'GET', url: '/async', handler: async () => { throw hostileError() } }
    ] }`)
  const app = await buildApp(await makeTree({ 'plugins/routes/index.mjs': routes }), { quarantine: { maxErrors: 2, windowMs: 60_000 } })
  const answers: string[] = []
  for (const url of ['/sync', '/async']) answers.push(`${url} ${(await app.inject(url)).statusCode}`)
  assert.deepEqual(answers, ['/sync 500', '/async 500'])
  assert.ok(await eventually(() => app.pluginKit.get('routes').state === 'disabled'), 'two failures quarantine it')
})

test('with a real logger: an Error whose stack or an enumerable getter throws is logged and answered, in every phase, and nothing escapes', async () => {
  const throwing = pluginSource(meta('throwing'), `
    const hostile = () => {
      const error = new Error('hostile')
      Object.defineProperty(error, 'stack', { get () { throw new Error('trap') } })
      Object.defineProperty(error, 'detail', { enumerable: true, get () { throw new Error('trap') } })
      return error
    }
    return { hep: {
      before_request: (request) => request.url === '/before' ? Promise.reject(hostile()) : undefined,
      after_request: (request) => request.url === '/after' ? Promise.reject(hostile()) : undefined,
      teardown_request: (request) => { if (request.url === '/teardown') throw hostile() }
    } }`)
  const lines: string[] = []
  const app = await buildApp(await makeTree({ 'plugins/throwing/index.mjs': throwing }), {}, {
    fastify: { logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } } },
    setup: (host) => { for (const url of ['/before', '/after', '/teardown']) host.get(url, async () => 'ok') }
  })
  const escaped: unknown[] = []
  const onEscape = (error: unknown) => { escaped.push(error) }
  process.on('unhandledRejection', onEscape)
  process.on('uncaughtException', onEscape)
  const answers: string[] = []
  try {
    for (const url of ['/before', '/after', '/teardown']) answers.push(`${url} ${(await app.inject(url)).statusCode}`)
    await eventually(() => lines.some((line) => line.includes('teardown_request of plugin throwing failed')))
  } finally {
    process.off('unhandledRejection', onEscape)
    process.off('uncaughtException', onEscape)
  }
  assert.deepEqual(escaped, [])
  assert.deepEqual(answers, ['/before 500', '/after 500', '/teardown 200'])
  assert.ok(lines.some((line) => line.includes('teardown_request of plugin throwing failed')), lines.join(''))
})

test('an hep object whose getters throw (a Proxy) fails boot as that plugin\'s PLUGINKIT_ERR_EXTENSION_POINT; under strict: false the others serve', async () => {
  const trap = pluginSource(meta('trap'), "return { hep: new Proxy({}, { get () { throw new Error('trap') } }) }")
  const base = await makeTree({ 'plugins/trap/index.mjs': trap, 'plugins/fine/index.mjs': pluginSource(meta('fine'), "return { vep: { method: 'GET', url: '/fine', handler: async () => 'fine' } }") })
  const strict = buildApp(base, {}, { until: 'none' })
  assertKitError(await readyError(strict), 'PLUGINKIT_ERR_EXTENSION_POINT', 'trap')
  const lenient = await buildApp(base, { strict: false }, { until: 'ready' })
  assert.deepEqual(lenient.pluginKit.failures.map((failure) => [failure.plugin, failure.error.code]), [['trap', 'PLUGINKIT_ERR_EXTENSION_POINT']])
  assert.equal((await lenient.inject('/fine')).body, 'fine')
})
