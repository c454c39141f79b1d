/**
 * What a traced app has before the kit: an OpenTelemetry SDK (AsyncLocalStorage context, a
 * BatchSpanProcessor as production uses) and @fastify/otel making the request spans. The
 * exporter drops the batches: the benchmark measures making spans, not sending them.
 */
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import type { FastifyInstance } from 'fastify'

const discard: SpanExporter = {
  export (_spans, done) { done({ code: 0 }) },
  shutdown: async () => {}
}

export async function registerOtel (app: FastifyInstance): Promise<void> {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] }))
  await app.register(new FastifyOtelInstrumentation().plugin())
}
