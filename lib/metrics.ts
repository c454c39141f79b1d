import type { Counter, Gauge, Histogram } from 'prom-client'
import { describe, invalidOption } from './errors.js'
import { isThenable } from './hook-runner.js'
import type { RequestHooks } from './points/hep.js'
import type { PluginRecord } from './record.js'
import type { MetricsRegistry } from './types.js'

type PromClient = typeof import('prom-client')
export type HookName = keyof RequestHooks

const HOOKS: readonly HookName[] = ['before_request', 'after_request', 'teardown_request']
export const INSTALL_ACTIONS = ['install', 'upgrade', 'rollback', 'uninstall'] as const
export type InstallAction = typeof INSTALL_ACTIONS[number]
export type InstallOutcome = 'success' | 'failure'

/**
 * Seconds: plugin hooks usually take microseconds (a header check) to milliseconds (a
 * lookup); anything near the top bucket is a problem worth seeing.
 */
const DURATION_BUCKETS = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/**
 * One plugin's one hook. The wrapper that counts its calls writes plain numbers; the
 * counters read them when scraped, so a request costs an increment, not a label lookup.
 */
export interface HookMeter {
  calls: number
  errors: number
  /** The duration histogram's child for this plugin and hook, resolved once. */
  readonly duration: { observe (seconds: number): void }
}

/** What one kit instance shows: its plugins (read at scrape time) and their hooks' meters. */
interface Source {
  records: () => readonly PluginRecord[]
  meters: WeakMap<PluginRecord, Partial<Record<HookName, HookMeter>>>
  /** `pluginKit.reloads` (SPEC 12), once the kit has it. */
  reloads: () => number | undefined
}

/** The series, one set per registry, shared by every kit instance that uses it (an app swapped in by a restart, tests). */
interface Series {
  all: Array<Counter<string> | Gauge<string> | Histogram<string>>
  duration: Histogram<'plugin' | 'hook'>
  installs: Counter<'action' | 'outcome'>
  sources: Source[]
}

const seriesByRegistry = new WeakMap<MetricsRegistry, Series>()

function * plugins (sources: readonly Source[]): Generator<[Source, PluginRecord]> {
  for (const source of sources) for (const record of source.records()) yield [source, record]
}

function createSeries (prom: PromClient): Series {
  const sources: Source[] = []
  // Created outside any registry: attach() registers them in the one the kit was given.
  const registers: [] = []
  const enabled = new prom.Gauge({
    name: 'pluginkit_plugin_enabled',
    help: 'Whether the plugin is enabled (1) or disabled (0).',
    labelNames: ['plugin'],
    registers,
    collect () {
      this.reset()
      for (const [, record] of plugins(sources)) this.set({ plugin: record.name }, record.enabled ? 1 : 0)
    }
  })
  const requests = new prom.Counter({
    name: 'pluginkit_plugin_requests_total',
    help: 'Requests answered by the plugin\'s routes and static files (PluginInfo.stats.requests).',
    labelNames: ['plugin'],
    registers,
    collect () {
      this.reset()
      for (const [, record] of plugins(sources)) this.inc({ plugin: record.name }, record.stats.requests)
    }
  })
  const calls = new prom.Counter({
    name: 'pluginkit_hook_calls_total',
    help: 'Calls of the plugin\'s request hooks; summed over hook, PluginInfo.stats.hookCalls.',
    labelNames: ['plugin', 'hook'],
    registers,
    collect () {
      this.reset()
      for (const [source, record] of plugins(sources)) {
        const meters = source.meters.get(record) ?? {}
        for (const hook of HOOKS) {
          const meter = meters[hook]
          if (meter !== undefined) this.inc({ plugin: record.name, hook }, meter.calls)
        }
      }
    }
  })
  const errors = new prom.Counter({
    name: 'pluginkit_hook_errors_total',
    help: 'Failures of the plugin\'s request hooks; hook="template": its failed tep/tcp/dcp contributions. ' +
      'Summed over hook, PluginInfo.stats.hookErrors.',
    labelNames: ['plugin', 'hook'],
    registers,
    collect () {
      this.reset()
      for (const [source, record] of plugins(sources)) {
        const meters = source.meters.get(record) ?? {}
        let counted = 0
        for (const hook of HOOKS) {
          const meter = meters[hook]
          if (meter === undefined) continue
          this.inc({ plugin: record.name, hook }, meter.errors)
          counted += meter.errors
        }
        // PluginInfo.stats.hookErrors also counts failed template contributions (contribute.ts).
        const rest = record.stats.hookErrors - counted
        if (rest > 0) this.inc({ plugin: record.name, hook: 'template' }, rest)
      }
    }
  })
  const duration = new prom.Histogram({
    name: 'pluginkit_hook_duration_seconds',
    help: 'Duration of the plugin\'s request hooks (sampled: each hook\'s first 128 calls, then one in 64).',
    labelNames: ['plugin', 'hook'],
    buckets: DURATION_BUCKETS,
    registers
  })
  const load = new prom.Gauge({
    name: 'pluginkit_plugin_load_seconds',
    help: 'Time the plugin took to load at boot: import and register (PluginInfo.loadTimeMs / 1000).',
    labelNames: ['plugin'],
    registers,
    collect () {
      this.reset()
      for (const [, record] of plugins(sources)) this.set({ plugin: record.name }, record.loadTimeMs / 1000)
    }
  })
  const reloads = new prom.Counter({
    name: 'pluginkit_reloads_total',
    help: 'In-process reloads of edited plugins (watch: true), pluginKit.reloads.',
    registers,
    collect () {
      this.reset()
      // The newest instance knows the count: a reload swaps the app for a new one.
      const counts = sources.map((source) => source.reloads()).filter((count) => count !== undefined)
      this.inc(counts.at(-1) ?? 0)
    }
  })
  const installs = new prom.Counter({
    name: 'pluginkit_install_operations_total',
    help: 'Run-time install, upgrade, rollback and uninstall operations, by outcome.',
    labelNames: ['action', 'outcome'],
    registers
  })
  return { all: [enabled, requests, calls, errors, duration, load, reloads, installs], duration, installs, sources }
}

async function loadPromClient (): Promise<PromClient> {
  try {
    const loaded = await import('prom-client') as PromClient & { default?: PromClient }
    return loaded.default ?? loaded
  } catch (error) {
    throw invalidOption('metrics', `needs the prom-client package (npm install prom-client): ${describe(error)}`)
  }
}

/** The registry the `metrics` option names: the one given, else prom-client's global registry. */
export async function metricsRegistry (given: MetricsRegistry | undefined): Promise<MetricsRegistry> {
  return given ?? (await loadPromClient()).register
}

/** The metrics of one kit instance. */
export interface KitMetrics {
  /** The registry the series are in (the one `GET {admin.prefix}/metrics` serves). */
  readonly registry: MetricsRegistry
  /** The meter of a plugin's hook, made once per plugin and hook. */
  meter (record: PluginRecord, hook: HookName): HookMeter
  /** A request hook of the plugin failed. */
  hookError (record: PluginRecord, hook: HookName): void
  installOperation (action: InstallAction, outcome: InstallOutcome): void
  /** The app closed: its plugins leave the series. */
  detach (): void
}

export interface MetricsInput {
  registry: MetricsRegistry | undefined
  records: () => readonly PluginRecord[]
  reloads: () => number | undefined
  /** Run-time install is on: its operation counters start at 0. */
  install: boolean
}

/**
 * Puts the kit's series in the registry (prom-client's global one by default) and makes
 * this instance's plugins part of them until `detach`.
 */
export async function attachMetrics ({ registry: given, records, reloads, install }: MetricsInput): Promise<KitMetrics> {
  const prom = await loadPromClient()
  const registry = given ?? prom.register
  let series = seriesByRegistry.get(registry)
  if (series === undefined) {
    series = createSeries(prom)
    seriesByRegistry.set(registry, series)
  }
  // Registered again if the registry was cleared; a stale copy under our name (another copy
  // of the kit's modules) makes way.
  for (const metric of series.all) {
    const name = (metric as unknown as { name: string }).name
    const present = registry.getSingleMetric(name)
    if (present === metric) continue
    if (present !== undefined) registry.removeSingleMetric(name)
    registry.registerMetric(metric)
  }
  const { duration, installs, sources } = series
  if (install) for (const action of INSTALL_ACTIONS) for (const outcome of ['success', 'failure']) installs.inc({ action, outcome }, 0)
  const source: Source = { records, meters: new WeakMap(), reloads }
  sources.push(source)

  const meter = (record: PluginRecord, hook: HookName): HookMeter => {
    let meters = source.meters.get(record)
    if (meters === undefined) source.meters.set(record, meters = {})
    return (meters[hook] ??= { calls: 0, errors: 0, duration: duration.labels({ plugin: record.name, hook }) })
  }
  return {
    registry,
    meter,
    hookError: (record, hook) => { meter(record, hook).errors++ },
    installOperation: (action, outcome) => { installs.inc({ action, outcome }) },
    detach: () => {
      const index = sources.indexOf(source)
      if (index < 0) return
      sources.splice(index, 1)
      // The counters and gauges are read from the instances left; the histogram keeps what it
      // observed, so a plugin no instance has any more is removed from it. (An app swapped in
      // by a restart has the same plugins: their histograms go on.)
      const remaining = new Set([...plugins(sources)].map(([, record]) => record.name))
      for (const record of records()) {
        if (remaining.has(record.name)) continue
        for (const hook of HOOKS) if (source.meters.get(record)?.[hook] !== undefined) duration.remove({ plugin: record.name, hook })
      }
    }
  }
}

type Hook = (...args: never[]) => unknown

/**
 * `fn` counted: each call is one increment; the first 128 calls and then one in 64 are also
 * timed into the histogram (a promise result then gets one `.then`), like the runner's own
 * sampled `meanHookMs`. What it returns or throws is passed on as it is.
 */
export function metered<F extends Hook> (fn: F, meter: HookMeter, arity: 2 | 3 = 3): F {
  const call = fn as unknown as (a: unknown, b: unknown, c?: unknown) => unknown
  const observe = (started: number) => meter.duration.observe((performance.now() - started) / 1000)
  // A sampled call: timed until it returns, throws, or its promise settles.
  const timed = (a: unknown, b: unknown, c: unknown): unknown => {
    const started = performance.now()
    let result: unknown
    try {
      result = arity === 2 ? call(a, b) : call(a, b, c)
      if (result === undefined || !isThenable(result)) {
        observe(started)
        return result
      }
    } catch (error) {
      observe(started)
      throw error
    }
    return result.then((value) => { observe(started); return value }, (error: unknown) => { observe(started); throw error })
  }
  // Two shapes, so that a teardown_request handler is still called with exactly (request, reply).
  return arity === 2
    ? function pluginKitMetered (a: unknown, b: unknown) {
      const calls = ++meter.calls
      if (calls > 128 && (calls & 63) !== 0) return call(a, b)
      return timed(a, b, undefined)
    } as unknown as F
    : function pluginKitMetered (a: unknown, b: unknown, c: unknown) {
      const calls = ++meter.calls
      if (calls > 128 && (calls & 63) !== 0) return call(a, b, c)
      return timed(a, b, c)
    } as unknown as F
}
