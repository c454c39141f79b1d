import type { Context, Span, Tracer } from '@opentelemetry/api'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { asError, describe, invalidOption } from './errors.js'
import { isThenable } from './hook-runner.js'

type OtelApi = typeof import('@opentelemetry/api')

export const ATTR_PLUGIN = 'pluginkit.plugin'
export const ATTR_PLUGIN_VERSION = 'pluginkit.plugin.version'

/** A plugin as its spans name it. */
export interface TracedPlugin {
  readonly name: string
  readonly manifest: { readonly version: string }
}

async function loadApi (): Promise<OtelApi> {
  try {
    // Its named exports: the CommonJS build's `default` is a smaller object (no SpanStatusCode).
    return await import('@opentelemetry/api')
  } catch (error) {
    throw invalidOption('trace', `needs the @opentelemetry/api package (npm install @opentelemetry/api): ${describe(error)}`)
  }
}

/** @fastify/otel's request decorator (its public API): the request span's context. */
type OtelRequest = { opentelemetry?: () => { context?: Context | null } }

export interface Tracing {
  /** `fn` as a span `pluginkit <hook> <plugin>`, a child of the request's span; `requestAt`: which argument is the request. */
  traced<F extends (...args: never[]) => unknown> (fn: F, hook: string, plugin: TracedPlugin, requestAt: number): F
  /** Adds the hook that marks requests served by a context of the plugin's routes with `pluginkit.plugin`. */
  tagRequests (instance: FastifyInstance, plugin: TracedPlugin): void
}

/**
 * Spans through `@opentelemetry/api` (an optional peer dependency, loaded only with
 * `trace: true`): they cost next to nothing until the host registers an SDK.
 */
export async function createTracing (kitVersion: string): Promise<Tracing> {
  const api = await loadApi()
  const tracer: Tracer = api.trace.getTracer('fastify-pluginkit', kitVersion)

  // The parent of a plugin's spans: the request span of @fastify/otel when it is there. Inside
  // the kit's hooks the active span is the one @fastify/otel wraps each app-wide hook in, which
  // for a callback hook ends as soon as the hook returns; the request span is the one that
  // lasts. Without @fastify/otel: the active context (an http instrumentation's span, say).
  const parents = new WeakMap<object, Context>()
  const parentOf = (request: FastifyRequest): Context => {
    const known = parents.get(request)
    if (known !== undefined) return known
    const otel = (request as OtelRequest).opentelemetry
    const found = typeof otel === 'function' ? otel.call(request).context : undefined
    if (found === undefined || found === null) return api.context.active()
    parents.set(request, found)
    return found
  }

  const failed = (span: Span, thrown: unknown): void => {
    const error = asError(thrown)
    span.recordException(error)
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message })
    span.end()
  }

  return {
    traced (fn, hook, plugin, requestAt) {
      const name = `pluginkit ${hook} ${plugin.name}`
      const options = { attributes: { [ATTR_PLUGIN]: plugin.name, [ATTR_PLUGIN_VERSION]: plugin.manifest.version } }
      const call = fn as unknown as (...args: unknown[]) => unknown
      return function pluginKitTraced (this: unknown, ...args: unknown[]) {
        const parent = parentOf(args[requestAt] as FastifyRequest)
        const span = tracer.startSpan(name, options, parent)
        try {
          const result = api.context.with(api.trace.setSpan(parent, span), call, this, ...args)
          if (result === undefined || !isThenable(result)) {
            span.end()
            return result
          }
          return result.then((value) => {
            span.end()
            return value
          }, (error: unknown) => {
            failed(span, error)
            throw error
          })
        } catch (error) {
          failed(span, error)
          throw error
        }
      } as unknown as typeof fn
    },

    tagRequests (instance, plugin) {
      // After the plugin's gate: only requests its routes serve get here. In nested contexts the
      // innermost plugin's hook runs last, so the route's own plugin is the one named.
      instance.addHook('onRequest', function pluginKitTraceTag (request, _reply, done) {
        api.trace.getSpan(parentOf(request))?.setAttribute(ATTR_PLUGIN, plugin.name)
        done()
      })
    }
  }
}
