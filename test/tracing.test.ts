// SPEC 13, tracing: with a real OpenTelemetry SDK (BasicTracerProvider + InMemorySpanExporter,
// AsyncLocalStorage context) and @fastify/otel making the request span, each plugin handler
// call is a span `pluginkit <hook> <plugin>` under the request span, errors recorded on it;
// requests served by a plugin's routes carry `pluginkit.plugin`; with trace off, nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { context, trace, ROOT_CONTEXT, SpanStatusCode, type Span } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { Registry } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import { buildApp, makeTree, pluginSource } from './helpers.ts'
import { eventually, probe } from './helpers-runtime.ts'

const exporter = new InMemorySpanExporter()
// The guard plugin logs to the probe.
probe()
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))

const plugins = {
  // Every phase, sync and async; its before_request logs its stack, to see what calls it.
  'plugins/guard/index.mjs': pluginSource({ name: 'guard', version: '2.1.0' }, `
    return { hep: {
      before_request () { __log(new Error('where').stack) },
      after_request: async (request) => { if (request.headers['x-reject'] === '1') throw new Error('rejected after') },
      teardown_request () {}
    } }`),
  'plugins/boom/index.mjs': pluginSource({ name: 'boom' }, `
    return { hep: { before_request (request) { if (request.headers['x-boom'] === '1') throw new Error('kaboom') } } }`),
  'plugins/fixer/index.mjs': pluginSource({ name: 'fixer' }, `
    return { errhandler: { 500: (error, request, reply) => reply.code(500).send({ fixed: error.message }) } }`),
  'plugins/pages/index.mjs': pluginSource({ name: 'pages', version: '0.3.0' }, `
    return { bep: { prefix: '/pages', blueprint: async (app) => {
      app.get('/', async () => 'pages')
      // A sub-plugin of the blueprint: its routes are still the plugin's.
      app.register(async (sub) => { sub.get('/', async () => 'deep') }, { prefix: '/deep' })
    } } }`)
}

/** An app with @fastify/otel registered first, as its README asks, then the kit. */
async function tracedApp (options: Record<string, unknown>): Promise<FastifyInstance> {
  const otel = new FastifyOtelInstrumentation()
  return await buildApp(await makeTree(plugins), options, { until: 'ready', setup: (app) => { app.register(otel.plugin()) } })
}

/** The spans of one request, once its teardown span (which ends after the response) is in. */
async function spansOf (app: FastifyInstance, url: string, headers: Record<string, string> = {}, teardown = true) {
  exporter.reset()
  const response = await app.inject({ url, headers })
  const request = () => exporter.getFinishedSpans().find((span) => span.name === 'request')
  assert.ok(await eventually(() => request() !== undefined &&
    (!teardown || exporter.getFinishedSpans().some((span) => span.name === 'pluginkit teardown_request guard'))))
  const spans = exporter.getFinishedSpans()
  return { response, spans, request: request() as ReadableSpan, named: (name: string) => spans.filter((span) => span.name === name) }
}

const parentId = (span: ReadableSpan) => span.parentSpanContext?.spanId

test('trace: each hook call is a span "pluginkit <hook> <plugin>", a child of the request span, with the plugin\'s name and version', async () => {
  const app = await tracedApp({ trace: true })
  const { response, request, named, spans } = await spansOf(app, '/pages/')
  assert.equal(response.body, 'pages')
  const requestId = request.spanContext().spanId
  for (const [name, plugin, version] of [
    ['pluginkit before_request guard', 'guard', '2.1.0'],
    ['pluginkit before_request boom', 'boom', '1.0.0'],
    ['pluginkit after_request guard', 'guard', '2.1.0'],
    ['pluginkit teardown_request guard', 'guard', '2.1.0']
  ] as const) {
    const [span, ...more] = named(name)
    assert.ok(span !== undefined, `${name} in ${spans.map((s) => s.name).join(', ')}`)
    assert.equal(more.length, 0, `one ${name}`)
    assert.equal(span.spanContext().traceId, request.spanContext().traceId)
    assert.equal(parentId(span), requestId, `${name} is a child of the request span`)
    assert.equal(span.attributes['pluginkit.plugin'], plugin)
    assert.equal(span.attributes['pluginkit.plugin.version'], version)
    assert.notEqual(span.status.code, SpanStatusCode.ERROR)
  }
  // The request was served by a plugin route: the request span names the plugin.
  assert.equal(request.attributes['pluginkit.plugin'], 'pages')
  // No error, no error handler span.
  assert.equal(named('pluginkit errhandler fixer').length, 0)
})

test('trace: a route of a sub-plugin inside the blueprint is still the plugin\'s; host routes and unknown URLs name no plugin', async () => {
  const app = await tracedApp({ trace: true })
  const deep = await spansOf(app, '/pages/deep/')
  assert.equal(deep.response.body, 'deep')
  assert.equal(deep.request.attributes['pluginkit.plugin'], 'pages')

  for (const url of ['/', '/nowhere']) {
    const { request, named } = await spansOf(app, url)
    assert.equal(request.attributes['pluginkit.plugin'], undefined, url)
    // App-wide hooks run for every request, the host's too.
    assert.equal(parentId(named('pluginkit before_request guard')[0] as ReadableSpan), request.spanContext().spanId, url)
  }
})

test('trace: what a handler throws or rejects with is recorded on its span; error handlers are spans too', async () => {
  const app = await tracedApp({ trace: true })
  const thrown = await spansOf(app, '/pages/', { 'x-boom': '1' }, true)
  assert.equal(thrown.response.statusCode, 500)
  assert.deepEqual(thrown.response.json(), { fixed: 'kaboom' })
  const [boom] = thrown.named('pluginkit before_request boom')
  assert.ok(boom !== undefined)
  assert.equal(boom.status.code, SpanStatusCode.ERROR)
  assert.equal(boom.status.message, 'kaboom')
  const exception = boom.events.find((event) => event.name === 'exception')
  assert.equal(exception?.attributes?.['exception.message'], 'kaboom')
  // The error handler that answered it: its own span, under the request span, without error.
  const [fixer] = thrown.named('pluginkit errhandler fixer')
  assert.ok(fixer !== undefined)
  assert.equal(parentId(fixer), thrown.request.spanContext().spanId)
  assert.equal(fixer.attributes['pluginkit.plugin'], 'fixer')
  assert.notEqual(fixer.status.code, SpanStatusCode.ERROR)

  const rejected = await spansOf(app, '/pages/', { 'x-reject': '1' })
  assert.equal(rejected.response.statusCode, 500)
  const [after] = rejected.named('pluginkit after_request guard')
  assert.equal(after?.status.code, SpanStatusCode.ERROR)
  assert.equal(after?.status.message, 'rejected after')
  assert.ok(after?.events.some((event) => event.name === 'exception'))
})

test('trace off: no plugin spans, no tag hook, and the dispatcher calls the plugins\' own functions', async () => {
  const seen = probe()
  const app = await tracedApp({})
  const { response, request, spans } = await spansOf(app, '/pages/', {}, false)
  assert.equal(response.body, 'pages')
  assert.deepEqual(spans.filter((span) => span.name.startsWith('pluginkit')).map((span) => span.name), [])
  // @fastify/otel makes a span for every hook function: the kit added none for tracing.
  assert.deepEqual(spans.filter((span) => /TraceTag|Traced/.test(span.name)).map((span) => span.name), [])
  assert.equal(request.attributes['pluginkit.plugin'], undefined)
  const stack = seen.calls.at(-1) ?? ''
  assert.match(stack, /pluginKitBeforeRequest|runChain/)
  assert.doesNotMatch(stack, /pluginKitTraced/)
})

test('trace with metrics: the spans as with trace alone; the hooks are counted per hook without another wrapper', async () => {
  const seen = probe()
  const registry = new Registry()
  const app = await tracedApp({ trace: true, metrics: { registry } })
  const { request, named } = await spansOf(app, '/pages/')
  assert.equal(parentId(named('pluginkit before_request guard')[0] as ReadableSpan), request.spanContext().spanId)
  const stack = seen.calls.at(-1) ?? ''
  assert.match(stack, /pluginKitTraced/)
  assert.doesNotMatch(stack, /pluginKitMetered/)
  assert.equal(app.pluginKit.get('guard').stats.hookCalls, 3)
  const calls = (await registry.getMetricsAsJSON()).find((metric) => metric.name === 'pluginkit_hook_calls_total')
  assert.deepEqual(calls?.values.filter((value) => value.labels.plugin === 'guard').map((value) => [value.labels.hook, value.value]),
    [['before_request', 1], ['after_request', 1], ['teardown_request', 1]])
})

test('trace without @fastify/otel: the spans are children of the span active when the request runs (as an http instrumentation sets it)', async () => {
  const tracer = trace.getTracer('test')
  const served: Span[] = []
  // What @opentelemetry/instrumentation-http does: the request listener runs inside a server span.
  const serverFactory = (handler: (request: IncomingMessage, response: ServerResponse) => void) => createServer((request, response) => {
    const span = tracer.startSpan('http server')
    served.push(span)
    response.once('finish', () => span.end())
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => handler(request, response))
  })
  const app = await buildApp(await makeTree(plugins), { trace: true }, { until: 'ready', fastify: { logger: false, serverFactory } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  exporter.reset()
  const response = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/pages/`)
  assert.equal(await response.text(), 'pages')
  const named = (name: string) => exporter.getFinishedSpans().find((span) => span.name === name)
  assert.ok(await eventually(() => named('pluginkit teardown_request guard') !== undefined && named('http server') !== undefined))
  const server = served.at(-1) as Span
  for (const name of ['pluginkit before_request guard', 'pluginkit after_request guard', 'pluginkit teardown_request guard']) {
    assert.equal(named(name)?.parentSpanContext?.spanId, server.spanContext().spanId, name)
  }
  assert.equal(named('http server')?.attributes['pluginkit.plugin'], 'pages')
})

test('trace: a value other than a boolean is an invalid option', async () => {
  await assert.rejects(buildApp(await makeTree({}), { trace: 'yes' }, { until: 'ready' }),
    (error: { code?: string, message?: string }) => error.code === 'PLUGINKIT_ERR_INVALID_OPTION' && /trace/.test(error.message ?? ''))
})
