import type { FastifyInstance } from 'fastify'
import { attachMetrics, type HookName, type InstallAction, type KitMetrics } from './metrics.js'
import type { ErrorHandlerEntry, Installation, RequestHooks } from './points/index.js'
import type { PluginRecord } from './record.js'
import type { KitState } from './state.js'
import { createTracing, type Tracing } from './tracing.js'
import type { ResolvedOptions } from './options.js'
import type { PluginKit } from './types.js'

/** What the kit's pipeline gets from metrics and tracing (SPEC 13). */
export interface Observability {
  /** For the points' installation; undefined when both are off. */
  observe: Installation['observe']
}

/**
 * Trace: the handlers the points will run, each call in a span, wrapped once here, at boot,
 * so that the dispatcher runs them as it runs the plugins' own, and a kit without `trace`
 * runs the plugins' functions themselves.
 */
function traceHandlers (record: PluginRecord, tracing: Tracing): void {
  const hep: RequestHooks = { ...record.contributions.hep }
  for (const hook of ['before_request', 'after_request', 'teardown_request'] as const satisfies HookName[]) {
    const fn = hep[hook]
    if (fn !== undefined) hep[hook] = tracing.traced(fn, hook, record, 0) as never
  }
  const errhandler: ErrorHandlerEntry[] = record.contributions.errhandler
    .map((entry) => ({ ...entry, handler: tracing.traced(entry.handler, 'errhandler', record, 1) }))
  record.contributions = { ...record.contributions, hep, errhandler }
}

/** `pluginKit.install` and its siblings, counted in `pluginkit_install_operations_total` by outcome. */
function countInstalls (api: PluginKit, metrics: KitMetrics): void {
  const count = <A extends unknown[], R> (action: InstallAction, operation: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        const result = await operation(...args)
        metrics.installOperation(action, 'success')
        return result
      } catch (error) {
        metrics.installOperation(action, 'failure')
        throw error
      }
    }
  api.install = count('install', api.install)
  api.upgrade = count('upgrade', api.upgrade)
  api.rollback = count('rollback', api.rollback)
  api.uninstall = count('uninstall', api.uninstall)
}

/**
 * Once the plugins registered and before the points install: loads prom-client and
 * @opentelemetry/api as the options ask (each an optional peer dependency), wraps the
 * plugins' handlers, and returns what the points' installation needs. Nothing at all when
 * both options are off.
 */
export async function setupObservability (
  app: FastifyInstance, state: KitState, options: ResolvedOptions, kitVersion: string
): Promise<Observability> {
  if (options.metrics === undefined && !options.trace) return { observe: undefined }
  const api = app.pluginKit
  const metrics = options.metrics === undefined
    ? undefined
    : await attachMetrics({
      registry: options.metrics.registry,
      records: () => state.records,
      // SPEC 12's `pluginKit.reloads`, read when scraped.
      reloads: () => {
        const reloads = (api as { reloads?: unknown }).reloads
        return typeof reloads === 'number' ? reloads : undefined
      },
      install: options.install !== undefined
    })
  if (metrics !== undefined) app.addHook('onClose', async () => metrics.detach())
  const tracing = options.trace ? await createTracing(kitVersion) : undefined
  for (const record of state.records) {
    metrics?.adopt(record)
    if (tracing !== undefined) traceHandlers(record, tracing)
  }
  if (metrics !== undefined && options.install !== undefined) countInstalls(api, metrics)
  return {
    observe: {
      ...(metrics === undefined
        ? {}
        : {
            hookStats: (plugin, phase) => metrics.hookStats(plugin as PluginRecord, phase as HookName),
            hookError: (plugin, phase) => metrics.hookError(plugin as PluginRecord, phase as HookName)
          }),
      ...(tracing === undefined ? {} : { pluginContext: (instance, plugin) => tracing.tagRequests(instance, plugin as PluginRecord) })
    }
  }
}
