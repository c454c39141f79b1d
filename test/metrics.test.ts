// SPEC 13, metrics: the kit's series in a prom-client registry, equal to PluginInfo.stats; a
// real Prometheus scraping GET {admin.prefix}/metrics; the global registry a host's
// fastify-metrics serves; nothing per request but plain increments.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fastifyMetrics from 'fastify-metrics'
import promClient, { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { buildApp, makeTree, pluginSource } from './helpers.ts'
import { kitErrorWith } from './helpers-loading.ts'
import { startPrometheus } from './helpers-prometheus.ts'
import { eventually, probe } from './helpers-runtime.ts'

const plugins = {
  // Every phase; each fails on its own header.
  'plugins/auth/index.mjs': pluginSource({ name: 'auth', version: '1.2.0' }, `
    return {
      hep: {
        before_request (request) { if (request.headers['x-fail'] === 'before') throw new Error('before failed') },
        after_request: async (request) => { if (request.headers['x-fail'] === 'after') throw new Error('after failed') },
        teardown_request (request) { __count('teardown'); if (request.headers['x-fail'] === 'teardown') throw new Error('teardown failed') }
      },
      bep: { prefix: '/auth', blueprint: async (app) => { app.get('/', async () => 'auth') } }
    }`),
  // Routes and a dcp callback that fails (counted in hookErrors, as hook="template").
  'plugins/pages/index.mjs': pluginSource({ name: 'pages' }, `
    ctx.kit.pushDcp('footer', () => { throw new Error('footer failed') })
    return { bep: { prefix: '/pages', blueprint: async (app) => { app.get('/', async () => 'pages') } } }`),
  'plugins/off/index.mjs': pluginSource({ name: 'off', state: 'disabled' }, `
    return { hep: { before_request () {} }, bep: { prefix: '/off', blueprint: async (app) => { app.get('/', async () => 'off') } } }`)
}

type Json = Awaited<ReturnType<Registry['getMetricsAsJSON']>>

/** The samples named `name` in getMetricsAsJSON output (a histogram's `_count` is in its family's values). */
function samplesOf (metrics: Json, name: string) {
  const family = metrics.find((metric) => metric.name === name.replace(/_(count|sum|bucket)$/, '')) ??
    metrics.find((metric) => metric.name === name)
  return (family?.values ?? []).filter((value) => (value as { metricName?: string }).metricName === undefined
    ? family?.name === name
    : (value as { metricName?: string }).metricName === name)
}

/** The value of the one series of `name` with exactly these labels. */
function valueOf (metrics: Json, name: string, labels: Record<string, string>): number | undefined {
  const sample = samplesOf(metrics, name).find((value) => Object.entries(labels).every(([key, label]) => value.labels[key] === label) &&
    Object.keys(value.labels).length === Object.keys(labels).length)
  return sample?.value
}

/** Each plugin's series summed over `hook`. */
function sumByPlugin (metrics: Json, name: string): Record<string, number> {
  const sums: Record<string, number> = {}
  for (const value of samplesOf(metrics, name)) {
    const plugin = String(value.labels.plugin)
    sums[plugin] = (sums[plugin] ?? 0) + value.value
  }
  return sums
}

/** A known mix of requests: `teardowns` is how many teardown_request calls they make. */
async function traffic (app: FastifyInstance) {
  const seen = probe()
  const statuses: number[] = []
  const get = async (url: string, fail?: string) => {
    statuses.push((await app.inject({ url, headers: fail === undefined ? {} : { 'x-fail': fail } })).statusCode)
  }
  for (let index = 0; index < 5; index++) await get('/auth/')
  for (let index = 0; index < 3; index++) await get('/pages/')
  await get('/')
  await get('/off/')
  await get('/auth/', 'before')
  await get('/auth/', 'after')
  await get('/pages/', 'teardown')
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 200, 404, 500, 500, 200])
  // teardown_request runs after the response.
  assert.ok(await eventually(() => seen.counts.teardown === statuses.length))
  assert.equal(app.pluginKit.emitDcp('footer'), '')
}

test('metrics: the series in the given registry hold the numbers of PluginInfo.stats, by plugin and hook', async () => {
  const registry = new Registry()
  const app = await buildApp(await makeTree(plugins), { metrics: { registry } })
  await traffic(app)
  const metrics = await registry.getMetricsAsJSON()
  const stats = (name: string) => app.pluginKit.get(name).stats

  assert.deepEqual(metrics.map((metric) => [metric.name, metric.type]), [
    ['pluginkit_plugin_enabled', 'gauge'],
    ['pluginkit_plugin_requests_total', 'counter'],
    ['pluginkit_hook_calls_total', 'counter'],
    ['pluginkit_hook_errors_total', 'counter'],
    ['pluginkit_hook_duration_seconds', 'histogram'],
    ['pluginkit_plugin_load_seconds', 'gauge'],
    ['pluginkit_reloads_total', 'counter'],
    ['pluginkit_install_operations_total', 'counter']
  ])
  for (const name of ['auth', 'pages', 'off']) {
    assert.equal(valueOf(metrics, 'pluginkit_plugin_requests_total', { plugin: name }), stats(name).requests, `${name} requests`)
    assert.equal(valueOf(metrics, 'pluginkit_plugin_load_seconds', { plugin: name }), app.pluginKit.get(name).loadTimeMs / 1000)
  }
  // A failing before_request ends its request before the route's gate counts it.
  assert.deepEqual([stats('auth').requests, stats('pages').requests, stats('off').requests], [6, 4, 0])
  assert.equal(valueOf(metrics, 'pluginkit_plugin_enabled', { plugin: 'auth' }), 1)
  assert.equal(valueOf(metrics, 'pluginkit_plugin_enabled', { plugin: 'off' }), 0)

  // 13 requests, each through every phase (an error response too); Fastify runs onSend again for
  // the error response of a failing after_request, which fails again: 14 calls, 2 errors.
  for (const [hook, calls, errors] of [['before_request', 13, 1], ['after_request', 14, 2], ['teardown_request', 13, 1]] as const) {
    assert.equal(valueOf(metrics, 'pluginkit_hook_calls_total', { plugin: 'auth', hook }), calls, `${hook} calls`)
    assert.equal(valueOf(metrics, 'pluginkit_hook_errors_total', { plugin: 'auth', hook }), errors, `${hook} errors`)
    // Fewer than 128 requests: every call is timed, a failing one too.
    assert.equal(valueOf(metrics, 'pluginkit_hook_duration_seconds_count', { plugin: 'auth', hook }), calls, `${hook} timed`)
    const buckets = samplesOf(metrics, 'pluginkit_hook_duration_seconds_bucket').filter((sample) => sample.labels.hook === hook &&
      sample.labels.plugin === 'auth').map((sample) => sample.value)
    assert.equal(buckets.length, 17, '16 bounds and +Inf')
    assert.deepEqual(buckets, [...buckets].sort((x, y) => x - y), 'cumulative')
    assert.equal(buckets.at(-1), calls)
  }
  // Summed over hook, the plugin's own statistics; the failed dcp callback is hook="template".
  // A disabled plugin's hooks have their series too, at 0.
  assert.deepEqual(sumByPlugin(metrics, 'pluginkit_hook_calls_total'), { auth: stats('auth').hookCalls, off: 0 })
  assert.deepEqual(sumByPlugin(metrics, 'pluginkit_hook_errors_total'),
    { auth: stats('auth').hookErrors, pages: stats('pages').hookErrors, off: 0 })
  assert.equal(valueOf(metrics, 'pluginkit_hook_errors_total', { plugin: 'pages', hook: 'template' }), 1)
  assert.equal(valueOf(metrics, 'pluginkit_reloads_total', {}), 0)

  // Read when scraped: a state change shows at once.
  await app.pluginKit.disable('auth')
  await app.pluginKit.enable('off')
  await app.inject('/off/')
  const later = await registry.getMetricsAsJSON()
  assert.equal(valueOf(later, 'pluginkit_plugin_enabled', { plugin: 'auth' }), 0)
  assert.equal(valueOf(later, 'pluginkit_plugin_enabled', { plugin: 'off' }), 1)
  assert.equal(valueOf(later, 'pluginkit_hook_calls_total', { plugin: 'off', hook: 'before_request' }), 1)
  assert.deepEqual([stats('off').requests, stats('off').hookCalls], [1, 1])
  assert.ok(stats('auth').meanHookMs > 0, 'the sampled mean still sums every hook')
})

test('metrics: a request makes no prom-client call; counters and the sampled histogram are read when scraped', async (t) => {
  const registry = new Registry()
  const app = await buildApp(await makeTree(plugins), { metrics: { registry } })
  await traffic(app)
  const timed = async () => sumByPlugin(await registry.getMetricsAsJSON(), 'pluginkit_hook_duration_seconds_count').auth ?? 0
  const timedBefore = await timed()
  // Every way into prom-client: label lookups, and each series' own inc / set / observe.
  const spies: Array<{ mock: { callCount (): number, restore (): void } }> =
    [Counter, Gauge, Histogram].map((kind) => t.mock.method(kind.prototype, 'labels'))
  for (const metric of registry.getMetricsAsArray()) {
    for (const key of ['inc', 'set', 'observe'] as const) {
      const target = metric as unknown as Record<typeof key, (...args: unknown[]) => unknown>
      if (typeof target[key] === 'function') spies.push(t.mock.method(target, key))
    }
  }
  const before = app.pluginKit.get('auth').stats.hookCalls
  for (let index = 0; index < 300; index++) await app.inject('/auth/')
  assert.ok(await eventually(() => app.pluginKit.get('auth').stats.hookCalls === before + 3 * 300))
  assert.deepEqual(spies.map((spy) => spy.mock.callCount()), spies.map(() => 0), 'no prom-client call while serving')
  // Timed as for meanHookMs: per phase, the first 128 requests, then one in 64 (each phase's count so far below).
  const sampled = (done: number) => {
    let count = 0
    for (let call = done + 1; call <= done + 300; call++) if (call <= 128 || (call & 63) === 0) count++
    return count
  }
  for (const spy of spies) spy.mock.restore()
  assert.equal(await timed() - timedBefore, sampled(13) + sampled(14) + sampled(13))
  assert.equal(valueOf(await registry.getMetricsAsJSON(), 'pluginkit_hook_calls_total', { plugin: 'auth', hook: 'before_request' }), 313)
})

test('metrics: a real Prometheus scrapes GET {prefix}/metrics (bearer token) and reads PluginInfo.stats', async (t) => {
  const registry = new Registry()
  const app = await buildApp(await makeTree(plugins), {
    metrics: { registry },
    admin: { authorize: (request: { headers: Record<string, unknown> }) => request.headers.authorization === 'Bearer s3cret' }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = `127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const prometheus = await startPrometheus(t, { address, path: '/pluginkit/metrics', bearer: 's3cret' })
  if (prometheus === undefined) return
  await traffic(app)
  const stats = (name: string) => app.pluginKit.get(name).stats
  const byPlugin = async (promql: string) =>
    Object.fromEntries((await prometheus.query(promql)).map((sample) => [sample.metric.plugin, sample.value]))

  // Scrapes are admin requests, which plugins' hooks skip: the numbers stay put once scraped.
  // Prometheus applies its targets about 5 s after it starts, then scrapes every second.
  const expected = { auth: stats('auth').requests, pages: stats('pages').requests, off: 0 }
  assert.ok(await eventually(async () => {
    const seen = await byPlugin('pluginkit_plugin_requests_total')
    return seen.auth === expected.auth && seen.pages === expected.pages && seen.off === 0
  }, 30_000, 250), 'Prometheus scraped the final numbers')
  const scraped = async (): Promise<void> => {
    assert.deepEqual((await prometheus.query('up{job="pluginkit"}')).map((sample) => sample.value), [1])
    assert.deepEqual(await byPlugin('sum by (plugin) (pluginkit_hook_calls_total)'), { auth: stats('auth').hookCalls, off: 0 })
    assert.deepEqual(await byPlugin('sum by (plugin) (pluginkit_hook_errors_total)'),
      { auth: stats('auth').hookErrors, pages: stats('pages').hookErrors, off: 0 })
    assert.deepEqual(await byPlugin('pluginkit_plugin_enabled'), { auth: 1, pages: 1, off: 0 })
    const counts = await prometheus.query('pluginkit_hook_duration_seconds_count{plugin="auth"}')
    assert.deepEqual(Object.fromEntries(counts.map((sample) => [sample.metric.hook, sample.value])),
      { before_request: 13, after_request: 14, teardown_request: 13 })
    const loads = await byPlugin('pluginkit_plugin_load_seconds')
    for (const name of ['auth', 'pages', 'off']) assert.ok(Math.abs((loads[name] ?? -1) - app.pluginKit.get(name).loadTimeMs / 1000) < 1e-9)
  }
  // A scrape that times out on a loaded machine marks the series stale until the next one: read until they hold.
  for (const deadline = Date.now() + 30_000; ;) {
    try {
      await scraped()
      break
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
  // The README's example queries are valid PromQL over these series.
  for (const promql of README_QUERIES) await prometheus.query(promql)
})

/** The queries of the README's Observability section. */
const README_QUERIES = [
  'pluginkit_plugin_enabled == 0',
  'sum by (plugin) (rate(pluginkit_plugin_requests_total[5m]))',
  'sum by (plugin, hook) (rate(pluginkit_hook_calls_total[5m]))',
  'sum by (plugin, hook) (rate(pluginkit_hook_errors_total[5m])) / clamp_min(sum by (plugin, hook) (rate(pluginkit_hook_calls_total[5m])), 1e-9)',
  'histogram_quantile(0.99, sum by (plugin, hook, le) (rate(pluginkit_hook_duration_seconds_bucket[5m])))',
  'topk(10, pluginkit_plugin_load_seconds)',
  'increase(pluginkit_reloads_total[1h])',
  'sum by (action, outcome) (increase(pluginkit_install_operations_total[1d]))'
]

test('metrics: true uses prom-client\'s global registry, so the host\'s fastify-metrics /metrics shows the plugins', async () => {
  const app = await buildApp(await makeTree(plugins), { metrics: true, admin: { authorize: () => true } }, {
    setup: (host) => { host.register(fastifyMetrics.default, { endpoint: '/metrics' }) }
  })
  await traffic(app)
  const host = await app.inject('/metrics')
  assert.equal(host.statusCode, 200)
  const line = (name: string, labels: string) => host.body.split('\n').find((text) => text.startsWith(`${name}{${labels}} `))
  assert.equal(line('pluginkit_plugin_requests_total', 'plugin="auth"'), `pluginkit_plugin_requests_total{plugin="auth"} ${app.pluginKit.get('auth').stats.requests}`)
  // The scrape is a host request: app-wide hooks ran for it too, before the handler read the numbers.
  assert.equal(line('pluginkit_hook_calls_total', 'plugin="auth",hook="before_request"'), 'pluginkit_hook_calls_total{plugin="auth",hook="before_request"} 14')
  // The admin serves the same registry, the host's own series with it.
  const admin = await app.inject('/pluginkit/metrics')
  assert.equal(admin.statusCode, 200)
  assert.match(String(admin.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  assert.equal(admin.headers['cache-control'], 'no-store')
  assert.ok(admin.body.includes('pluginkit_plugin_requests_total{plugin="auth"} 6'))
  assert.ok(admin.body.includes('process_cpu_user_seconds_total'), 'the global registry\'s other series')
  assert.equal(promClient.register.getSingleMetric('pluginkit_plugin_enabled') !== undefined, true)
  await app.close()
  // Closed: its plugins leave the series.
  assert.doesNotMatch(await promClient.register.metrics(), /plugin="auth"/)
})

test('metrics: two apps on one registry add up; a closed one leaves', async () => {
  const registry = new Registry()
  const base = await makeTree(plugins)
  const first = await buildApp(base, { metrics: { registry } })
  const second = await buildApp(base, { metrics: { registry } })
  await first.inject('/pages/')
  await second.inject('/pages/')
  await second.inject('/pages/')
  assert.equal(valueOf(await registry.getMetricsAsJSON(), 'pluginkit_plugin_requests_total', { plugin: 'pages' }), 3)
  await first.close()
  assert.equal(valueOf(await registry.getMetricsAsJSON(), 'pluginkit_plugin_requests_total', { plugin: 'pages' }), 2)
  // A registry cleared by its owner gets the series back with the next app.
  registry.clear()
  const third = await buildApp(base, { metrics: { registry } })
  await third.inject('/pages/')
  assert.equal(valueOf(await registry.getMetricsAsJSON(), 'pluginkit_plugin_requests_total', { plugin: 'pages' }), 3)
})

test('metrics with install: each operation counted by action and outcome, every pair from 0', async () => {
  const registry = new Registry()
  const app = await buildApp(await makeTree({}), { install: { allow: ['@acme/*'] }, metrics: { registry } })
  // Outside the allow-list: refused before any download, a failed install.
  await assert.rejects(app.pluginKit.install('left-pad'), kitErrorWith('PLUGINKIT_ERR_INSTALL'))
  const operations = (await registry.getMetricsAsJSON()).find((metric) => metric.name === 'pluginkit_install_operations_total')
  assert.deepEqual(operations?.values.map((value) => [value.labels.action, value.labels.outcome, value.value]), [
    ['install', 'success', 0], ['install', 'failure', 1], ['upgrade', 'success', 0], ['upgrade', 'failure', 0],
    ['rollback', 'success', 0], ['rollback', 'failure', 0], ['uninstall', 'success', 0], ['uninstall', 'failure', 0]
  ])
})

test('metrics off: no /metrics route and no series', async () => {
  const registry = new Registry()
  const app = await buildApp(await makeTree(plugins), { admin: { authorize: () => true } })
  await traffic(app)
  assert.equal((await app.inject('/pluginkit/metrics')).statusCode, 404)
  assert.deepEqual(await registry.getMetricsAsJSON(), [])
})

test('metrics: anything but true, false or { registry } is an invalid option naming metrics', async () => {
  const base = await makeTree({})
  for (const metrics of ['yes', {}, { registry: {} }, { registry: new Registry(), extra: 1 }]) {
    await assert.rejects(buildApp(base, { metrics }, { until: 'ready' }), kitErrorWith('PLUGINKIT_ERR_INVALID_OPTION', 'metrics'))
  }
})
