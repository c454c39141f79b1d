import type { Counter, Gauge, Histogram } from 'prom-client'
import { describe, invalidOption } from './errors.js'
import type { RequestHooks } from './points/hep.js'
import type { PluginRecord } from './record.js'
import { newStats, type Stats } from './stats.js'
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
 * One plugin's one hook. Its calls count into `stats`, which the dispatcher's table holds in
 * place of the plugin's own (the plugin's own sum them, see `adopt`): the same increments as
 * without metrics, on another object. The durations the dispatcher samples for `meanHookMs`
 * land in `buckets`. The series read these plain numbers when scraped: a request never calls
 * prom-client (even a label child's observe() hashes its labels, about a microsecond).
 */
export interface HookMeter {
  readonly stats: Stats
  /** Sampled durations in seconds: counts per bucket of DURATION_BUCKETS (not cumulative), the last one +Inf. */
  readonly buckets: number[]
  sum: number
  count: number
}

function newMeter (): HookMeter {
  const meter: HookMeter = { stats: newStats(), buckets: [...DURATION_BUCKETS, Infinity].map(() => 0), sum: 0, count: 0 }
  meter.stats.observe = (ms) => {
    const seconds = ms / 1000
    let bucket = 0
    // Prometheus buckets hold the values <= their bound.
    while (bucket < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[bucket] as number)) bucket++
    meter.buckets[bucket] = (meter.buckets[bucket] as number) + 1
    meter.sum += seconds
    meter.count++
  }
  return meter
}

type Summed = 'hookCalls' | 'sampledCalls' | 'sampledMs'

/**
 * The plugin's statistics once its hooks count per hook: `requests` and `hookErrors` as they
 * were (the routes' gates, static files and template contributions count there), the hook
 * counters the sums of its meters', so that PluginInfo.stats reads as without metrics.
 */
function summed (own: Stats, meters: () => HookMeter[]): Stats {
  const sum = (key: Summed) => meters().reduce((total, meter) => total + meter.stats[key], own[key])
  const field = (key: Summed) => ({
    get: () => sum(key),
    // Whatever adds to the plugin's own counter directly still counts.
    set: (value: number) => { own[key] += value - sum(key) },
    enumerable: true
  })
  return Object.defineProperties({ requests: own.requests, hookErrors: own.hookErrors } as Stats, {
    hookCalls: field('hookCalls'), sampledCalls: field('sampledCalls'), sampledMs: field('sampledMs')
  })
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
          if (meter !== undefined) this.inc({ plugin: record.name, hook }, meter.stats.hookCalls)
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
          this.inc({ plugin: record.name, hook }, meter.stats.hookErrors)
          counted += meter.stats.hookErrors
        }
        // PluginInfo.stats.hookErrors also counts failed template contributions (contribute.ts).
        const rest = record.stats.hookErrors - counted
        if (rest > 0) this.inc({ plugin: record.name, hook: 'template' }, rest)
      }
    }
  })
  // A Histogram whose values are the meters' (summed over instances), built when scraped.
  type Value = { labels: Record<string, string | number>, value: number, metricName: string }
  type Exported = Awaited<ReturnType<Histogram['get']>>
  const durationValues = (): Value[] => {
    const merged = new Map<string, { plugin: string, hook: HookName, buckets: number[], sum: number, count: number }>()
    for (const [source, record] of plugins(sources)) {
      const meters = source.meters.get(record) ?? {}
      for (const hook of HOOKS) {
        const meter = meters[hook]
        if (meter === undefined) continue
        const key = `${record.name}\n${hook}`
        const entry = merged.get(key) ?? { plugin: record.name, hook, buckets: meter.buckets.map(() => 0), sum: 0, count: 0 }
        meter.buckets.forEach((count, index) => { entry.buckets[index] = (entry.buckets[index] as number) + count })
        entry.sum += meter.sum
        entry.count += meter.count
        merged.set(key, entry)
      }
    }
    const name = 'pluginkit_hook_duration_seconds'
    return [...merged.values()].flatMap(({ plugin, hook, buckets, sum, count }) => {
      let cumulative = 0
      const bounds = DURATION_BUCKETS.map((le, index) => {
        cumulative += buckets[index] as number
        return { labels: { le, plugin, hook }, value: cumulative, metricName: `${name}_bucket` }
      })
      const totals: Value[] = [
        { labels: { le: '+Inf', plugin, hook }, value: count, metricName: `${name}_bucket` },
        { labels: { plugin, hook }, value: sum, metricName: `${name}_sum` },
        { labels: { plugin, hook }, value: count, metricName: `${name}_count` }
      ]
      return [...bounds, ...totals]
    })
  }
  class MeteredHistogram extends prom.Histogram<'plugin' | 'hook'> {
    // The shape prom-client's own get() returns (its typings say `type` is an enum; it is the string).
    override async get (): Promise<Exported> {
      const { name, help, aggregator } = this as unknown as { name: string, help: string, aggregator: string }
      return { name, help, type: 'histogram', aggregator, values: durationValues() } as unknown as Exported
    }

    // What the registry reads for the text format, when a metric has it (prom-client's Histogram does).
    async getForPromString () { return await this.get() }
  }
  const duration = new MeteredHistogram({
    name: 'pluginkit_hook_duration_seconds',
    help: 'Duration of the plugin\'s request hooks, sampled as for meanHookMs (the first 128 requests of a phase, then one in 64).',
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
  return { all: [enabled, requests, calls, errors, duration, load, reloads, installs], installs, sources }
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
  /**
   * The statistics the plugin's hook counts into (its meter's, made once per plugin and hook),
   * for the dispatcher's tables; the plugin's own `stats` sum them from now on.
   */
  hookStats (record: PluginRecord, hook: HookName): Stats
  /** A request hook of the plugin failed. */
  hookError (record: PluginRecord, hook: HookName): void
  /** Makes the meters of the plugin's hooks now, so that their series show from boot on, enabled or not. */
  adopt (record: PluginRecord): void
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
  const { installs, sources } = series
  if (install) for (const action of INSTALL_ACTIONS) for (const outcome of ['success', 'failure']) installs.inc({ action, outcome }, 0)
  const source: Source = { records, meters: new WeakMap(), reloads }
  sources.push(source)

  const meter = (record: PluginRecord, hook: HookName): HookMeter => {
    let meters = source.meters.get(record)
    if (meters === undefined) {
      const own = meters = {} as Partial<Record<HookName, HookMeter>>
      source.meters.set(record, meters)
      record.stats = summed(record.stats, () => HOOKS.flatMap((name) => own[name] ?? []))
    }
    return (meters[hook] ??= newMeter())
  }
  return {
    hookStats: (record, hook) => meter(record, hook).stats,
    adopt: (record) => { for (const hook of HOOKS) if (record.contributions.hep[hook] !== undefined) meter(record, hook) },
    hookError: (record, hook) => { meter(record, hook).stats.hookErrors++ },
    installOperation: (action, outcome) => { installs.inc({ action, outcome }) },
    detach: () => {
      const index = sources.indexOf(source)
      if (index >= 0) sources.splice(index, 1)
    }
  }
}
