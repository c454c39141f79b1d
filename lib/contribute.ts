import type { PluginRecord } from './record.js'

/** The part of a logger that reports a failed contribution (a Fastify logger is one). */
export interface ErrorLog {
  error (fields: object, message: string, ...args: unknown[]): void
}

const SITES = {
  tep: { what: 'tep contribution', field: 'slot' },
  tcp: { what: 'tcp context processor', field: 'key' },
  dcp: { what: 'dcp callback', field: 'event' }
} as const

/**
 * A `tcp` function's or `dcp` callback's result. Templates render synchronously: a promise
 * would show as "[object Promise]" and its rejection, unhandled, would end the process;
 * so it is silenced and counted as a failure.
 */
export function synchronous (result: unknown): unknown {
  const then = result !== null && (typeof result === 'object' || typeof result === 'function')
    ? (result as Partial<PromiseLike<unknown>>).then
    : undefined
  if (typeof then === 'function') {
    then.call(result, undefined, () => {})
    throw new TypeError('returned a promise; template contributions must be synchronous')
  }
  return result
}

/**
 * Runs one plugin's template contribution (a `tep` entry, a `tcp` function, a `dcp`
 * callback). What it throws must not fail the page: it is logged with the plugin's name
 * (when known), counted in the plugin's `hookErrors`, and `failed` is returned instead.
 */
export function contribute<T, F> (
  log: ErrorLog, record: PluginRecord | undefined, kind: keyof typeof SITES, name: string, failed: F, run: () => T
): T | F {
  try {
    return run()
  } catch (error) {
    const { what, field } = SITES[kind]
    if (record === undefined) {
      log.error({ err: error, [field]: name }, 'fastify-pluginkit: a %s for %s "%s" failed; it contributes nothing', what, field, name)
    } else {
      record.stats.hookErrors++
      log.error({ err: error, plugin: record.name, [field]: name },
        'fastify-pluginkit: %s of plugin %s for %s "%s" failed; it contributes nothing', what, record.name, field, name)
    }
    return failed
  }
}
