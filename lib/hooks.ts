import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { PluginRecord, Stats } from './record.js'
import type { RequestHooks } from './types.js'

type Before = NonNullable<RequestHooks['before_request']>
type After = NonNullable<RequestHooks['after_request']>
type Teardown = NonNullable<RequestHooks['teardown_request']>

export interface HookEntry<F> {
  fn: F
  record: PluginRecord
}

/** The enabled plugins' request hooks in load order; replaced (never mutated) on enable/disable. */
export interface HookTables {
  before: Array<HookEntry<Before>>
  after: Array<HookEntry<After>>
  teardown: Array<HookEntry<Teardown>>
}

export type FailureReporter = (record: PluginRecord, error: unknown, request: FastifyRequest) => void

export function buildHookTables (records: PluginRecord[]): HookTables {
  const tables: HookTables = { before: [], after: [], teardown: [] }
  for (const record of records) {
    if (!record.enabled) continue
    const { before_request: before, after_request: after, teardown_request: teardown } = record.contributions.hep
    if (before !== undefined) tables.before.push({ fn: before, record })
    if (after !== undefined) tables.after.push({ fn: after, record })
    if (teardown !== undefined) tables.teardown.push({ fn: teardown, record })
  }
  return tables
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
}

// Timing every call would cost two clock reads per handler per request; the first
// calls are always timed, then one in 64, which keeps the mean honest and cheap.
function startTimer (stats: Stats): number {
  stats.hookCalls++
  return stats.hookCalls <= 128 || (stats.hookCalls & 63) === 0 ? performance.now() : -1
}

function stopTimer (stats: Stats, started: number): void {
  if (started < 0) return
  stats.sampledCalls++
  stats.sampledMs += performance.now() - started
}

type Done = (error?: Error | null, payload?: unknown) => void

/**
 * One onRequest, one onSend and one onResponse hook for all plugins, added only for
 * the phases some plugin uses. Each runs the current table in a plain loop: sync
 * handlers cost a function call and no promise; only a handler that returns a promise is
 * waited for, with one .then on it.
 */
export function installRequestHooks (app: FastifyInstance, records: PluginRecord[], current: () => HookTables, report: FailureReporter): void {
  const uses = (key: keyof RequestHooks) => records.some((record) => record.contributions.hep[key] !== undefined)

  const fail = (entry: HookEntry<unknown>, started: number, error: unknown, request: FastifyRequest) => {
    stopTimer(entry.record.stats, started)
    report(entry.record, error, request)
  }
  const crashed = (request: FastifyRequest) => (error: unknown) => request.log.error({ err: error }, 'fastify-pluginkit: request hook dispatch failed')

  // before_request (`ending`): a value other than undefined ends the request with it
  // (Flask semantics). after_request: a value other than undefined replaces the payload.
  const respond = (reply: FastifyReply, value: unknown) => {
    if (value !== reply && !reply.sent) reply.send(value)
  }
  type Chained = HookEntry<(request: FastifyRequest, reply: FastifyReply, payload: unknown) => unknown>

  const runChain = (ending: boolean, handlers: Chained[], request: FastifyRequest, reply: FastifyReply, payload: unknown, done: Done): void => {
    for (let index = 0; index < handlers.length; index++) {
      const entry = handlers[index] as Chained
      const started = startTimer(entry.record.stats)
      let result: unknown
      try {
        result = entry.fn(request, reply, payload)
      } catch (error) {
        fail(entry, started, error, request)
        return done(error as Error)
      }
      if (isThenable(result)) {
        continueChain(ending, handlers, index, result, started, request, reply, payload, done)
        return
      }
      stopTimer(entry.record.stats, started)
      if (ending) {
        if (result !== undefined) return respond(reply, result)
        // A handler that sent the reply itself and returned nothing: do not run the route too.
        if (reply.sent) return
      } else if (result !== undefined) {
        payload = result
      }
    }
    if (ending) done()
    else done(null, payload)
  }

  // From the first handler that returned a promise: two closures for the rest of this
  // request's chain, then one .then per promise met (cheaper than an async function's await).
  function continueChain (ending: boolean, handlers: Chained[], index: number, pending: PromiseLike<unknown>, started: number, request: FastifyRequest, reply: FastifyReply, payload: unknown, done: Done): void {
    let entry = handlers[index] as Chained
    const onRejected = (error: unknown) => {
      fail(entry, started, error, request)
      done(error as Error)
    }
    const onFulfilled = (value: unknown): void => {
      for (;;) {
        stopTimer(entry.record.stats, started)
        if (ending) {
          if (value !== undefined) return respond(reply, value)
          if (reply.sent) return
        } else if (value !== undefined) {
          payload = value
        }
        if (++index === handlers.length) return ending ? done() : done(null, payload)
        entry = handlers[index] as Chained
        started = startTimer(entry.record.stats)
        try {
          value = entry.fn(request, reply, payload)
        } catch (error) {
          return onRejected(error)
        }
        if (isThenable(value)) {
          value.then(onFulfilled, onRejected)
          return
        }
      }
    }
    pending.then(onFulfilled, onRejected)
  }

  // teardown_request: runs after the response; errors are logged, never sent.
  async function runTeardown (handlers: Array<HookEntry<Teardown>>, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    for (const entry of handlers) {
      const started = startTimer(entry.record.stats)
      try {
        const result = entry.fn(request, reply)
        if (isThenable(result)) await result
        stopTimer(entry.record.stats, started)
      } catch (error) {
        fail(entry, started, error, request)
        request.log.error({ err: error, plugin: entry.record.name }, 'teardown_request of plugin %s failed', entry.record.name)
      }
    }
  }

  if (uses('before_request')) {
    app.addHook('onRequest', function pluginKitBeforeRequest (request, reply, done) {
      const handlers = current().before
      if (handlers.length === 0) return done()
      runChain(true, handlers as Chained[], request, reply, undefined, done as Done)
    })
  }
  if (uses('after_request')) {
    app.addHook('onSend', function pluginKitAfterRequest (request, reply, payload, done) {
      const handlers = current().after
      if (handlers.length === 0) return done(null, payload)
      runChain(false, handlers, request, reply, payload, done as Done)
    })
  }
  if (uses('teardown_request')) {
    // Nothing waits for teardown: the response is already sent.
    app.addHook('onResponse', function pluginKitTeardownRequest (request, reply, done) {
      const handlers = current().teardown
      if (handlers.length > 0) runTeardown(handlers, request, reply).catch(crashed(request))
      done()
    })
  }
}
