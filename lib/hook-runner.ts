import type { FastifyReply, FastifyRequest } from 'fastify'
import { asError, kitError } from './errors.js'
import type { Stats } from './stats.js'

/** What the runner needs to know of a plugin: its name, for errors. */
export interface NamedPlugin { readonly name: string }

/** One phase's handlers of the enabled plugins in load order, as parallel arrays (the hot loop reads `fns` and `stats` only). */
export interface HookChain<F> {
  fns: F[]
  stats: Stats[]
  records: NamedPlugin[]
}

export type HandlerFn = (request: FastifyRequest, reply: FastifyReply, payload: unknown) => unknown
export type Done = (error?: Error | null, payload?: unknown) => void
/** Reports a handler's failure (statistics, quarantine) and returns it as the request's Error. */
export type Fail = (chain: HookChain<unknown>, index: number, started: number, thrown: unknown, request: FastifyRequest) => Error

/** What a phase makes of its handlers' results: the only difference between before_request and after_request. */
export interface PhaseRules {
  /**
   * Applies one handler's result. Returns the payload to go on with, or STOP when the chain
   * ends here (the request was answered). Throws when the result is the plugin's error.
   */
  apply (reply: FastifyReply, payload: unknown, result: unknown, record: NamedPlugin, done: Done): unknown
  /** The chain ran to its end. */
  finish (done: Done, payload: unknown): void
}

export const STOP: unique symbol = Symbol('stop')

export function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
}

/**
 * What Fastify's onSend accepts as a payload (see onSendEnd in fastify/lib/reply.js). Anything
 * else would throw inside Fastify after our hook returned, where no handler catches it.
 */
function isPayload (value: unknown): boolean {
  if (value === null || typeof value === 'string' || Buffer.isBuffer(value)) return true
  if (typeof value !== 'object') return false
  const candidate = value as { pipe?: unknown, getReader?: unknown }
  return typeof candidate.pipe === 'function' || typeof candidate.getReader === 'function' ||
    Object.prototype.toString.call(value) === '[object Response]'
}

/** before_request: a value other than undefined ends the request with it (Flask semantics). */
export const beforeRequest: PhaseRules = {
  apply (reply, payload, result, _record, done) {
    if (result === undefined) return reply.sent ? STOP : payload // a handler that sent the reply itself
    if (result !== reply && !reply.sent) {
      // reply.send may throw (a value that cannot be serialized): that request's error.
      try {
        reply.send(result)
      } catch (error) {
        if (!reply.sent) done(asError(error))
      }
    }
    return STOP
  },
  finish (done) { done() }
}

/** after_request: a value other than undefined replaces the payload. */
export const afterRequest: PhaseRules = {
  apply (_reply, payload, result, record) {
    if (result === undefined) return payload
    if (!isPayload(result)) {
      const type = result === null ? 'null' : Array.isArray(result) ? 'an array' : typeof result
      throw kitError('PLUGINKIT_ERR_EXTENSION_POINT', { plugin: record.name }, 'hep.after_request',
        `returned ${type}; a replacement payload must be a string, a Buffer, a stream or null (undefined keeps the payload)`)
    }
    return result
  },
  finish (done, payload) { done(null, payload) }
}

/** The rest of a request's chain once a handler returned a promise: one object, allocated only then. */
interface Pending {
  chain: HookChain<HandlerFn>
  timed: boolean
  index: number
  /** Clock reading when the pending handler was called, or -1 when untimed. */
  started: number
  request: FastifyRequest
  reply: FastifyReply
  payload: unknown
  done: Done
}

export type ChainRunner = (
  chain: HookChain<HandlerFn>, timed: boolean, request: FastifyRequest, reply: FastifyReply, payload: unknown, done: Done
) => void

export function addTime (stats: Stats, started: number): void {
  const ms = performance.now() - started
  stats.sampledCalls++
  stats.sampledMs += ms
  stats.observe?.(ms)
}

/**
 * Builds a phase's runner (as Fastify's hookRunnerGenerator builds its hook runners): a plain
 * loop in which a sync handler costs one call and no allocation; only a handler that returns
 * a promise is waited for, with one .then on it. Whatever a handler returns, throws or rejects
 * with costs at most its own request, and nothing thrown escapes from a promise continuation.
 */
export function chainRunner (rules: PhaseRules, fail: Fail): ChainRunner {
  function continueAsync (run: Pending, pending: PromiseLike<unknown>): void {
    const { chain: { fns, stats, records }, request, reply } = run
    // A plugin's thenable may call back twice, or after throwing: the chain moves on once.
    let finished = false
    const next = run.done
    const done: Done = (error, value) => {
      if (finished) return
      finished = true
      // Fastify's onSend runner guards its own continuation the same way: what finishing the
      // reply throws becomes this request's error.
      try {
        next(error, value)
      } catch (failure) {
        next(asError(failure))
      }
    }
    const onRejected = (thrown: unknown) => done(fail(run.chain, run.index, run.started, thrown, request))
    const onFulfilled = (value: unknown): void => {
      if (finished) return
      for (;;) {
        if (run.started >= 0) {
          addTime(stats[run.index] as Stats, run.started)
          run.started = -1
        }
        try {
          if (value !== undefined || reply.sent) {
            const payload = rules.apply(reply, run.payload, value, records[run.index] as NamedPlugin, done)
            if (payload === STOP) return
            run.payload = payload
          }
          if (++run.index === fns.length) return rules.finish(done, run.payload)
          ;(stats[run.index] as Stats).hookCalls++
          run.started = run.timed ? performance.now() : -1
          value = (fns[run.index] as HandlerFn)(request, reply, run.payload)
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

  return function runChain (chain, timed, request, reply, payload, done) {
    const { fns, stats, records } = chain
    for (let index = 0; index < fns.length; index++) {
      const counters = stats[index] as Stats
      counters.hookCalls++
      const started = timed ? performance.now() : -1
      let result: unknown
      try {
        result = (fns[index] as HandlerFn)(request, reply, payload)
        // Inside the try: a `then` getter or a thenable's then() is the plugin's code too.
        if (result !== undefined && isThenable(result)) {
          return continueAsync({ chain, timed, index, started, request, reply, payload, done }, result)
        }
      } catch (error) {
        return done(fail(chain, index, started, error, request))
      }
      if (timed) addTime(counters, started)
      // The common case, nothing returned, skips the call.
      if (result !== undefined || reply.sent) {
        try {
          payload = rules.apply(reply, payload, result, records[index] as NamedPlugin, done)
        } catch (error) {
          return done(fail(chain, index, -1, error, request))
        }
        if (payload === STOP) return
      }
    }
    rules.finish(done, payload)
  }
}
