import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
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

/**
 * One onRequest, one onSend and one onResponse hook for all plugins, added only for
 * the phases some plugin uses. Each loops over the current table; sync handlers are
 * called without creating promises, and only a handler that returns a promise is awaited.
 */
export function installRequestHooks (app: FastifyInstance, records: PluginRecord[], current: () => HookTables, report: FailureReporter): void {
  const uses = (key: keyof RequestHooks) => records.some((record) => record.contributions.hep[key] !== undefined)

  const fail = (entry: HookEntry<unknown>, started: number, error: unknown, request: FastifyRequest) => {
    stopTimer(entry.record.stats, started)
    report(entry.record, error, request)
  }

  // before_request: a return value other than undefined ends the request with it (Flask semantics).
  const respond = (reply: FastifyReply, value: unknown) => {
    if (value !== reply && !reply.sent) reply.send(value)
  }
  const runBefore = (handlers: Array<HookEntry<Before>>, from: number, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    for (let index = from; index < handlers.length; index++) {
      const entry = handlers[index] as HookEntry<Before>
      const started = startTimer(entry.record.stats)
      let result: unknown
      try {
        result = entry.fn(request, reply)
      } catch (error) {
        fail(entry, started, error, request)
        return done(error as Error)
      }
      if (isThenable(result)) {
        result.then((value) => {
          stopTimer(entry.record.stats, started)
          if (value !== undefined) respond(reply, value)
          else if (!reply.sent) runBefore(handlers, index + 1, request, reply, done)
        }, (error: unknown) => {
          fail(entry, started, error, request)
          done(error as Error)
        })
        return
      }
      stopTimer(entry.record.stats, started)
      if (result !== undefined) return respond(reply, result)
      if (reply.sent) return
    }
    done()
  }

  // after_request: may return a replacement payload.
  const runAfter = (handlers: Array<HookEntry<After>>, from: number, request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload?: unknown) => void): void => {
    for (let index = from; index < handlers.length; index++) {
      const entry = handlers[index] as HookEntry<After>
      const started = startTimer(entry.record.stats)
      let result: unknown
      try {
        result = entry.fn(request, reply, payload)
      } catch (error) {
        fail(entry, started, error, request)
        return done(error as Error)
      }
      if (isThenable(result)) {
        result.then((value) => {
          stopTimer(entry.record.stats, started)
          runAfter(handlers, index + 1, request, reply, value === undefined ? payload : value, done)
        }, (error: unknown) => {
          fail(entry, started, error, request)
          done(error as Error)
        })
        return
      }
      stopTimer(entry.record.stats, started)
      if (result !== undefined) payload = result
    }
    done(null, payload)
  }

  // teardown_request: runs after the response; errors are logged, never sent.
  const runTeardown = (handlers: Array<HookEntry<Teardown>>, from: number, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    for (let index = from; index < handlers.length; index++) {
      const entry = handlers[index] as HookEntry<Teardown>
      const started = startTimer(entry.record.stats)
      const failed = (error: unknown) => {
        fail(entry, started, error, request)
        request.log.error({ err: error, plugin: entry.record.name }, 'teardown_request of plugin %s failed', entry.record.name)
      }
      let result: unknown
      try {
        result = entry.fn(request, reply)
      } catch (error) {
        failed(error)
        continue
      }
      if (isThenable(result)) {
        result.then(() => {
          stopTimer(entry.record.stats, started)
          runTeardown(handlers, index + 1, request, reply, done)
        }, (error: unknown) => {
          failed(error)
          runTeardown(handlers, index + 1, request, reply, done)
        })
        return
      }
      stopTimer(entry.record.stats, started)
    }
    done()
  }

  if (uses('before_request')) {
    app.addHook('onRequest', function pluginKitBeforeRequest (request, reply, done) {
      const handlers = current().before
      if (handlers.length === 0) return done()
      runBefore(handlers, 0, request, reply, done)
    })
  }
  if (uses('after_request')) {
    app.addHook('onSend', function pluginKitAfterRequest (request, reply, payload, done) {
      const handlers = current().after
      if (handlers.length === 0) return done(null, payload)
      runAfter(handlers, 0, request, reply, payload, done)
    })
  }
  if (uses('teardown_request')) {
    app.addHook('onResponse', function pluginKitTeardownRequest (request, reply, done) {
      const handlers = current().teardown
      if (handlers.length === 0) return done()
      runTeardown(handlers, 0, request, reply, done)
    })
  }
}
