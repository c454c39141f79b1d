import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { asError, kitError } from './errors.js'
import type { PluginRecord, Stats } from './record.js'
import type { RequestHooks } from './types.js'

type Before = NonNullable<RequestHooks['before_request']>
type After = NonNullable<RequestHooks['after_request']>
type Teardown = NonNullable<RequestHooks['teardown_request']>

/** One phase's handlers of the enabled plugins in load order, as parallel arrays (the hot loop reads `fns` and `stats` only). */
export interface HookChain<F> {
  fns: F[]
  stats: Stats[]
  records: PluginRecord[]
}

/** The enabled plugins' request hooks; replaced (never mutated) on enable/disable. */
export interface HookTables {
  before: HookChain<Before>
  after: HookChain<After>
  teardown: HookChain<Teardown>
}

export type HookPhase = keyof RequestHooks
export type FailureReporter = (record: PluginRecord, error: Error, request: FastifyRequest, phase: HookPhase) => void

function emptyChain<F> (): HookChain<F> {
  return { fns: [], stats: [], records: [] }
}

function push<F> (chain: HookChain<F>, fn: F | undefined, record: PluginRecord): void {
  if (fn === undefined) return
  chain.fns.push(fn)
  chain.stats.push(record.stats)
  chain.records.push(record)
}

export function buildHookTables (records: PluginRecord[]): HookTables {
  const tables: HookTables = { before: emptyChain(), after: emptyChain(), teardown: emptyChain() }
  for (const record of records) {
    if (!record.enabled) continue
    const hep = record.contributions.hep
    push(tables.before, hep.before_request, record)
    push(tables.after, hep.after_request, record)
    push(tables.teardown, hep.teardown_request, record)
  }
  return tables
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
}

/**
 * What Fastify's onSend accepts as a payload (see onSendEnd in fastify/lib/reply.js). Anything
 * else would throw inside Fastify after our hook returned, where no handler catches it.
 */
function isPayload (value: unknown): boolean {
  if (value === null || typeof value === 'string' || Buffer.isBuffer(value)) return true
  if (typeof value !== 'object') return false
  const candidate = value as { pipe?: unknown, getReader?: unknown }
  return typeof candidate.pipe === 'function' || typeof candidate.getReader === 'function' || Object.prototype.toString.call(value) === '[object Response]'
}

function invalidPayload (record: PluginRecord, value: unknown): Error {
  const type = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
  return kitError('PLUGINKIT_ERR_EXTENSION_POINT', `plugin "${record.name}"`, 'hep.after_request',
    `returned ${type}; a replacement payload must be a string, a Buffer, a stream or null (undefined keeps the payload)`)
}

/**
 * Timing every call would cost two clock reads per handler per request. The decision is
 * taken once per request and phase: the first 128 requests are timed, then one in 64,
 * which keeps the mean honest and the untimed loop free of clock reads.
 */
function sampler (): () => boolean {
  let requests = 0
  return () => ++requests <= 128 || (requests & 63) === 0
}

function addTime (stats: Stats, started: number): void {
  stats.sampledCalls++
  stats.sampledMs += performance.now() - started
}

type Done = (error?: Error | null, payload?: unknown) => void
type ChainFn = (request: FastifyRequest, reply: FastifyReply, payload: unknown) => unknown
/** `started` is the clock reading when the pending handler was called, or -1 when untimed. */
interface Pending { index: number, started: number }

/**
 * One onRequest, one onSend and one onResponse hook for all plugins, added only for
 * the phases some plugin uses. Each runs the current chain in a plain loop: sync
 * handlers cost a function call and no promise; only a handler that returns a promise is
 * waited for, with one .then on it.
 *
 * Whatever a handler returns, throws or rejects with costs at most its own request: every
 * thrown value becomes an Error (a falsy one too, so a failing guard never lets the route
 * run), a replacement payload Fastify cannot send is an error of that plugin, and nothing
 * that Fastify or a plugin throws escapes from a promise continuation.
 */
export function installRequestHooks (app: FastifyInstance, records: PluginRecord[], current: () => HookTables, report: FailureReporter): void {
  const uses = (key: keyof RequestHooks) => records.some((record) => record.contributions.hep[key] !== undefined)

  const fail = (phase: HookPhase, chain: HookChain<unknown>, at: Pending, thrown: unknown, request: FastifyRequest): Error => {
    if (at.started >= 0) addTime(chain.stats[at.index] as Stats, at.started)
    const error = asError(thrown)
    report(chain.records[at.index] as PluginRecord, error, request, phase)
    return error
  }
  const crashed = (request: FastifyRequest) => (error: unknown) => request.log.error({ err: error }, 'fastify-pluginkit: request hook dispatch failed')

  // before_request (`ending`): a value other than undefined ends the request with it
  // (Flask semantics). reply.send may throw (a value that cannot be serialized).
  const respond = (reply: FastifyReply, value: unknown, done: Done) => {
    if (value === reply || reply.sent) return
    try {
      reply.send(value)
    } catch (error) {
      if (!reply.sent) done(asError(error))
    }
  }

  const runChain = (ending: boolean, chain: HookChain<ChainFn>, timed: boolean, request: FastifyRequest, reply: FastifyReply, payload: unknown, done: Done): void => {
    const { fns, stats } = chain
    const phase = ending ? 'before_request' : 'after_request'
    for (let index = 0; index < fns.length; index++) {
      const counters = stats[index] as Stats
      counters.hookCalls++
      const started = timed ? performance.now() : -1
      let result: unknown
      try {
        result = (fns[index] as ChainFn)(request, reply, payload)
        // Inside the try: a `then` getter or a thenable's then() is the plugin's code too.
        if (result !== undefined && isThenable(result)) return continueChain(ending, chain, timed, { index, started }, result, request, reply, payload, done)
        if (!ending && result !== undefined && !isPayload(result)) throw invalidPayload(chain.records[index] as PluginRecord, result)
      } catch (error) {
        return done(fail(phase, chain, { index, started }, error, request))
      }
      if (timed) addTime(counters, started)
      if (ending) {
        if (result !== undefined) return respond(reply, result, done)
        // A handler that sent the reply itself and returned nothing: do not run the route too.
        if (reply.sent) return
      } else if (result !== undefined) {
        payload = result
      }
    }
    if (ending) done()
    else done(null, payload)
  }

  // From the first handler that returned a promise: closures for the rest of this
  // request's chain, then one .then per promise met (cheaper than an async function's await).
  function continueChain (ending: boolean, chain: HookChain<ChainFn>, timed: boolean, at: Pending, pending: PromiseLike<unknown>, request: FastifyRequest, reply: FastifyReply, payload: unknown, next: Done): void {
    const { fns, stats } = chain
    const phase = ending ? 'before_request' : 'after_request'
    // A plugin's thenable may call back twice, or after throwing: the chain moves on once.
    let finished = false
    const done: Done = (error, value) => {
      if (finished) return
      finished = true
      // Fastify's onSend runner guards its own promise continuation the same way: what
      // finishing the reply throws becomes this request's error.
      try {
        next(error, value)
      } catch (failure) {
        next(asError(failure))
      }
    }
    const onRejected = (error: unknown) => done(fail(phase, chain, at, error, request))
    const onFulfilled = (value: unknown): void => {
      if (finished) return
      for (;;) {
        try {
          if (!ending && value !== undefined && !isPayload(value)) throw invalidPayload(chain.records[at.index] as PluginRecord, value)
        } catch (error) {
          return onRejected(error)
        }
        if (at.started >= 0) addTime(stats[at.index] as Stats, at.started)
        if (ending) {
          if (value !== undefined) return respond(reply, value, done)
          if (reply.sent) return
        } else if (value !== undefined) {
          payload = value
        }
        if (++at.index === fns.length) return ending ? done() : done(null, payload)
        ;(stats[at.index] as Stats).hookCalls++
        at.started = timed ? performance.now() : -1
        try {
          value = (fns[at.index] as ChainFn)(request, reply, payload)
          if (value !== undefined && isThenable(value)) {
            value.then(onFulfilled, onRejected)
            return
          }
        } catch (error) {
          return onRejected(error)
        }
      }
    }
    pending.then(onFulfilled, onRejected)
  }

  // teardown_request: runs after the response; errors are logged, never sent.
  async function runTeardown (chain: HookChain<Teardown>, timed: boolean, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    for (let index = 0; index < chain.fns.length; index++) {
      const counters = chain.stats[index] as Stats
      counters.hookCalls++
      const started = timed ? performance.now() : -1
      try {
        const result = (chain.fns[index] as Teardown)(request, reply)
        if (isThenable(result)) await result
        if (timed) addTime(counters, started)
      } catch (thrown) {
        const error = fail('teardown_request', chain, { index, started }, thrown, request)
        const name = (chain.records[index] as PluginRecord).name
        request.log.error({ err: error, plugin: name }, 'teardown_request of plugin %s failed', name)
      }
    }
  }

  if (uses('before_request')) {
    const sampled = sampler()
    app.addHook('onRequest', function pluginKitBeforeRequest (request, reply, done) {
      const chain = current().before
      if (chain.fns.length === 0) return done()
      runChain(true, chain as HookChain<ChainFn>, sampled(), request, reply, undefined, done as Done)
    })
  }
  if (uses('after_request')) {
    const sampled = sampler()
    app.addHook('onSend', function pluginKitAfterRequest (request, reply, payload, done) {
      const chain = current().after
      if (chain.fns.length === 0) return done(null, payload)
      runChain(false, chain, sampled(), request, reply, payload, done as Done)
    })
  }
  if (uses('teardown_request')) {
    const sampled = sampler()
    // Nothing waits for teardown: the response is already sent.
    app.addHook('onResponse', function pluginKitTeardownRequest (request, reply, done) {
      const chain = current().teardown
      if (chain.fns.length > 0) runTeardown(chain, sampled(), request, reply).catch(crashed(request))
      done()
    })
  }
}
