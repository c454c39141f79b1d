import { Type } from 'typebox'
import type { FastifyInstance, FastifyRequest, FastifyReply } from 'fastify'
import { isAdminRequest } from '../admin-scope.js'
import { asError } from '../errors.js'
import {
  addTime, afterRequest, beforeRequest, chainRunner, isThenable, type Done, type Fail, type HandlerFn, type HookChain
} from '../hook-runner.js'
import type { Stats } from '../stats.js'
import { checker } from '../validation.js'
import { check, definePoint, type InstalledPlugin, type PluginTable } from './point.js'

export interface RequestHooks {
  /** onRequest: a non-undefined return value ends the request with that value. */
  before_request?: (request: FastifyRequest, reply: FastifyReply) => unknown
  /** onSend: a non-undefined return value replaces the payload. */
  after_request?: (request: FastifyRequest, reply: FastifyReply, payload: unknown) => unknown
  /** onResponse: errors are logged, never sent. */
  teardown_request?: (request: FastifyRequest, reply: FastifyReply) => unknown
}

const PHASES = ['before_request', 'after_request', 'teardown_request'] as const

const Fn = Type.Function([], Type.Unknown(), { description: 'a function' })
const shape = checker(Type.Object({
  before_request: Type.Optional(Fn),
  after_request: Type.Optional(Fn),
  teardown_request: Type.Optional(Fn)
}, { additionalProperties: false, description: 'an object { before_request?, after_request?, teardown_request? }' }))

/** App-wide request hooks (Flask's before/after/teardown_request): one Fastify hook per phase for all plugins. */
export const hep = definePoint<RequestHooks, RequestHooks>({
  normalize (raw) {
    check(raw, shape, 'hep')
    // Read once, here: a getter or Proxy that throws is then this plugin's boot error, not
    // an error in the dispatch tables rebuilt on every state change.
    const hooks: RequestHooks = {}
    for (const phase of PHASES) {
      const fn = (raw as RequestHooks)[phase]
      if (fn !== undefined) Object.assign(hooks, { [phase]: fn })
    }
    return hooks
  },
  empty: () => ({}),
  install: ({ app, state, quarantine, observe }) =>
    installRequestHooks(app, state as PluginTable<HookPlugin>, (record, error, request, phase) => {
      record.stats.hookErrors++
      observe?.hookError?.(record, phase)
      quarantine?.onHookError(record, error, request, phase)
    }, observe?.hookStats)
})

type Before = NonNullable<RequestHooks['before_request']>
type After = NonNullable<RequestHooks['after_request']>
type Teardown = NonNullable<RequestHooks['teardown_request']>

export type { HookChain }

/** The enabled plugins' request hooks; replaced (never mutated) on enable/disable. */
export interface HookTables {
  before: HookChain<Before>
  after: HookChain<After>
  teardown: HookChain<Teardown>
}

export type HookPhase = keyof RequestHooks
/** A plugin as the hooks see it. */
type HookPlugin = InstalledPlugin<{ hep: RequestHooks }>

export type FailureReporter = (record: HookPlugin, error: Error, request: FastifyRequest, phase: HookPhase) => void

function emptyChain<F> (): HookChain<F> {
  return { fns: [], stats: [], records: [] }
}

/**
 * The statistics one plugin's hook of one phase counts into: the plugin's own, or with
 * metrics one object per plugin and phase (which the plugin's own sum), resolved here, when
 * the tables are built, never per request.
 */
export type HookStats = (record: HookPlugin, phase: HookPhase) => Stats

const ownStats: HookStats = (record) => record.stats

function push<F> (chain: HookChain<F>, fn: F | undefined, record: HookPlugin, phase: HookPhase, statsOf: HookStats): void {
  if (fn === undefined) return
  chain.fns.push(fn)
  chain.stats.push(statsOf(record, phase))
  chain.records.push(record)
}

function buildHookTables (records: readonly HookPlugin[], statsOf: HookStats): HookTables {
  const tables: HookTables = { before: emptyChain(), after: emptyChain(), teardown: emptyChain() }
  for (const record of records) {
    if (!record.enabled) continue
    const hep = record.contributions.hep
    push(tables.before, hep.before_request, record, 'before_request', statsOf)
    push(tables.after, hep.after_request, record, 'after_request', statsOf)
    push(tables.teardown, hep.teardown_request, record, 'teardown_request', statsOf)
  }
  return tables
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
export function installRequestHooks (
  app: FastifyInstance, state: PluginTable<HookPlugin>, report: FailureReporter, statsOf: HookStats = ownStats
): void {
  const uses = (key: keyof RequestHooks) => state.records.some((record) => record.contributions.hep[key] !== undefined)
  let tables = buildHookTables([], statsOf)
  state.watch((records) => { tables = buildHookTables(records, statsOf) })

  const failIn = (phase: HookPhase): Fail => (chain, index, started, thrown, request) => {
    if (started >= 0) addTime(chain.stats[index] as Stats, started)
    const error = asError(thrown)
    report(chain.records[index] as HookPlugin, error, request, phase)
    return error
  }
  const crashed = (request: FastifyRequest) => (error: unknown) =>
    request.log.error({ err: error }, 'fastify-pluginkit: request hook dispatch failed')
  const failTeardown = failIn('teardown_request')

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
        const error = failTeardown(chain, index, started, thrown, request)
        const name = (chain.records[index] as HookPlugin).name
        request.log.error({ err: error, plugin: name }, 'teardown_request of plugin %s failed', name)
      }
    }
  }

  if (uses('before_request')) {
    const sampled = sampler()
    const runChain = chainRunner(beforeRequest, failIn('before_request'))
    app.addHook('onRequest', function pluginKitBeforeRequest (request, reply, done) {
      const chain = tables.before
      // The admin is out of the plugins' reach (admin-scope.ts), in every phase.
      if (chain.fns.length === 0 || isAdminRequest(request)) return done()
      runChain(chain as HookChain<HandlerFn>, sampled(), request, reply, undefined, done as Done)
    })
  }
  if (uses('after_request')) {
    const sampled = sampler()
    const runChain = chainRunner(afterRequest, failIn('after_request'))
    app.addHook('onSend', function pluginKitAfterRequest (request, reply, payload, done) {
      const chain = tables.after
      if (chain.fns.length === 0 || isAdminRequest(request)) return done(null, payload)
      runChain(chain, sampled(), request, reply, payload, done as Done)
    })
  }
  if (uses('teardown_request')) {
    const sampled = sampler()
    // Nothing waits for teardown: the response is already sent.
    app.addHook('onResponse', function pluginKitTeardownRequest (request, reply, done) {
      const chain = tables.teardown
      if (chain.fns.length > 0 && !isAdminRequest(request)) runTeardown(chain, sampled(), request, reply).catch(crashed(request))
      done()
    })
  }
}
