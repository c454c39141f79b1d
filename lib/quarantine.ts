import type { FastifyRequest } from 'fastify'
import { describe } from './errors.js'
import type { KitState } from './kit.js'
import type { PluginRecord } from './record.js'
import type { QuarantineOptions } from './types.js'

export type FailureListener = (record: PluginRecord, error: unknown, request: FastifyRequest) => void

/**
 * Counts a plugin's failures (hooks and routes) in a sliding window and disables it,
 * persisted like any disable, once `maxErrors` fall within `windowMs`.
 */
export function createQuarantine (state: KitState, options: QuarantineOptions) {
  // A hook's error also reaches the onError hook of the route it ran for: count it once.
  const counted = new WeakSet<FastifyRequest>()
  const pending = new Set<string>()

  const count = (record: PluginRecord, error: unknown) => {
    // A client error (a 4xx a route or hook raises on purpose) must not let clients switch plugins off.
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
      .catch((failure: unknown) => state.log.error({ err: failure, plugin: record.name }, 'fastify-pluginkit: could not quarantine plugin %s', record.name))
      .finally(() => pending.delete(record.name))
  }

  const onHookError: FailureListener = (record, error, request) => {
    counted.add(request)
    count(record, error)
  }
  const onRouteError: FailureListener = (record, error, request) => {
    if (!counted.has(request)) count(record, error)
  }
  return { onHookError, onRouteError }
}
