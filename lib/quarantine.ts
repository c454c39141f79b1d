import type { FastifyRequest } from 'fastify'
import { describe } from './errors.js'
import type { HookPhase } from './points/hep.js'
import type { KitState } from './state.js'
import type { PluginRecord } from './record.js'
import type { QuarantineOptions } from './types.js'

/**
 * Counts a plugin's failures in a sliding window and disables it, persisted like any
 * disable (with the reason), once `maxErrors` fall within `windowMs`.
 *
 * What counts is chosen so that no client can switch a plugin off on purpose:
 * - errors with a 4xx status are answers, not failures;
 * - a failing `before_request` fails closed (its request gets the error) and is not
 *   counted unless the host lists the plugin in `countBeforeRequest`: a guard that throws
 *   on a forged token would otherwise be disabled by whoever sends forged tokens;
 * - a route counts only what its own handler threw (see routes.ts), never the host's hooks,
 *   parsers or other plugins.
 */
export type Quarantine = ReturnType<typeof createQuarantine>

export function createQuarantine (state: KitState, options: QuarantineOptions) {
  // A hook's error also reaches the onError hook of the route it ran for: count it once.
  const counted = new WeakSet<FastifyRequest>()
  const pending = new Set<string>()
  const guards = new Set(options.countBeforeRequest ?? [])

  const count = (record: PluginRecord, error: unknown) => {
    const status = (error as { statusCode?: unknown } | null)?.statusCode
    if (typeof status === 'number' && status < 500) return
    if (!record.enabled || pending.has(record.name)) return
    const now = Date.now()
    record.recentErrors = record.recentErrors.filter((time) => now - time < options.windowMs)
    record.recentErrors.push(now)
    if (record.recentErrors.length < options.maxErrors) return
    const reason = `${record.recentErrors.length} errors within ${options.windowMs} ms; last: ${describe(error)}`
    pending.add(record.name)
    state.setState(record.name, 'disabled', { cascade: true }, reason)
      .then(() => state.log.warn({ plugin: record.name, reason }, 'fastify-pluginkit: quarantined plugin %s: %s', record.name, reason))
      .catch((failure: unknown) =>
        state.log.error({ err: failure, plugin: record.name }, 'fastify-pluginkit: could not quarantine plugin %s', record.name))
      .finally(() => pending.delete(record.name))
  }

  const onHookError = (record: PluginRecord, error: unknown, request: FastifyRequest, phase: HookPhase) => {
    counted.add(request)
    if (phase !== 'before_request' || guards.has(record.name)) count(record, error)
  }
  const onRouteError = (record: PluginRecord, error: unknown, request: FastifyRequest) => {
    if (!counted.has(request)) count(record, error)
  }
  return { onHookError, onRouteError }
}
