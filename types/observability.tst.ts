// SPEC 13's public types: the metrics and trace options, a manifest's health check, and
// app.pluginKit.health().
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { describe, expect, test } from 'tstyche'
import pluginKit, {
  definePlugin,
  type HealthCheckResult,
  type HealthReport,
  type MetricsRegistry,
  type PluginHealth,
  type PluginKitOptions
} from 'fastify-pluginkit'

const app = Fastify()

describe('options', () => {
  test('metrics: true, false, or { registry } with a prom-client Registry; trace: a boolean', () => {
    expect<PluginKitOptions>().type.toBeAssignableFrom({ metrics: true, trace: true })
    expect<PluginKitOptions>().type.toBeAssignableFrom({ metrics: false, trace: false })
    expect<PluginKitOptions>().type.toBeAssignableFrom({ metrics: { registry: new Registry() } })
    expect<MetricsRegistry>().type.toBeAssignableFrom(new Registry())
    expect(app.register).type.toBeCallableWith(pluginKit, { metrics: { registry: new Registry() }, trace: true })
  })

  test('anything else is refused', () => {
    expect<PluginKitOptions>().type.not.toBeAssignableFrom({ metrics: 'yes' })
    expect<PluginKitOptions>().type.not.toBeAssignableFrom({ metrics: {} })
    expect<PluginKitOptions>().type.not.toBeAssignableFrom({ metrics: { registry: {} } })
    expect<PluginKitOptions>().type.not.toBeAssignableFrom({ trace: 'yes' })
  })
})

describe('health', () => {
  test('a manifest\'s health check: sync or async, a boolean, nothing, or { ok, detail? }', () => {
    definePlugin({ name: 'a', version: '1.0.0', author: 'x', health: () => true, register: () => ({}) })
    definePlugin({ name: 'b', version: '1.0.0', author: 'x', health: async () => ({ ok: false, detail: 'down' }), register: () => ({}) })
    definePlugin({ name: 'c', version: '1.0.0', author: 'x', health () {}, register: () => ({}) })
    definePlugin({ name: 'd', version: '1.0.0', author: 'x', async health () {}, register: () => ({}) })
    expect<HealthCheckResult>().type.toBe<boolean | undefined | void | { ok: boolean, detail?: string }>()
  })

  test('health gets the plugin context, its config typed like register\'s', () => {
    definePlugin({
      name: 'e',
      version: '1.0.0',
      author: 'x',
      configSchema: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] },
      health (ctx) {
        expect(ctx.config.url).type.toBe<string>()
        expect(ctx.name).type.toBe<string>()
        return ctx.config.url !== ''
      },
      register: () => ({})
    })
  })

  test('a check returning something else is refused', () => {
    expect(definePlugin).type.not.toBeCallableWith({ name: 'f', version: '1.0.0', author: 'x', health: () => 'fine', register: () => ({}) })
    expect(definePlugin).type.not.toBeCallableWith({ name: 'g', version: '1.0.0', author: 'x', health: 'fine', register: () => ({}) })
  })

  test('app.pluginKit.health() resolves to a report of each plugin\'s check', () => {
    expect(app.pluginKit.health()).type.toBe<Promise<HealthReport>>()
    expect<HealthReport['plugins']>().type.toBe<Record<string, PluginHealth>>()
    expect<PluginHealth>().type.toBe<{ ok: boolean, detail?: string, ms: number }>()
  })
})
