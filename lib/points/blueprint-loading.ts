import type { FastifyInstance, FastifyPluginCallback, FastifyPluginAsync } from 'fastify'
import { asError, kitError, wrapError, type PluginKitError } from '../errors.js'
import { withTimeout } from '../loader.js'
import type { NamedPlugin } from '../hook-runner.js'

/** A blueprint as the kit keeps it. */
export interface Blueprint {
  blueprint: FastifyPluginCallback | FastifyPluginAsync
  prefix: string
  parent: string | undefined
  options: Record<string, unknown>
}

const kPluginMeta = Symbol.for('plugin-meta')
export const kDisplayName = Symbol.for('fastify.display-name')
export const kSkipOverride = Symbol.for('skip-override')

type AnyPlugin = FastifyPluginCallback | FastifyPluginAsync
export type Mount = (instance: FastifyInstance) => void

/** What happens around one blueprint's loading. */
export interface Loading {
  ms: number
  /** The blueprint loaded (or failed and was skipped): nested plugins mount into its context. */
  loaded: Mount
  /** The blueprint failed: throws to fail boot (strict), or drops the plugin and returns. */
  failed: (error: PluginKitError) => void
}

/**
 * The blueprint as avvio will load it: avvio keeps its calling conventions (callback or
 * promise, by arity) and errors. The wrapper adds what avvio cannot know:
 * - a callback blueprint that never calls `done`, or an async one that never settles, fails
 *   within loadTimeout naming the plugin, not after Fastify's anonymous pluginTimeout;
 * - what the blueprint itself throws or rejects with is the plugin's failure. Under
 *   `strict: false` the wrapper then finishes normally, so Fastify completes the context
 *   (routes it added before failing stay behind the gate of the dropped plugin: 404).
 * It keeps the blueprint's fastify-plugin metadata, so Fastify still checks its `fastify`
 * range and dependencies, and a fastify-plugin blueprint shares our gated, prefixed context.
 */
export function timed (record: NamedPlugin, blueprint: AnyPlugin, { ms, loaded, failed }: Loading): AnyPlugin {
  const subject = { plugin: record.name }
  // Plugins the blueprint registered load after it returns, inside its context; one that
  // fails leaves the context half built, which Fastify cannot start with: always an error.
  const childFailure = async (error: Error | null) => {
    if (error !== null && error !== undefined) {
      throw wrapError(error, 'PLUGINKIT_ERR_REGISTER', subject, 'bep', 'blueprint failed to load: ', 'any')
    }
  }
  const late = () => kitError('PLUGINKIT_ERR_REGISTER', subject, 'bep',
    `blueprint did not finish loading within loadTimeout (${ms} ms)${blueprint.length >= 3 ? '; does it call done()?' : ''}`)
  // Settles the blueprint's outcome once: undefined when it loaded or was skipped, else the error for avvio.
  const settle = (instance: FastifyInstance, error: unknown): Error | undefined => {
    try {
      if (error !== undefined && error !== null) {
        failed(wrapError(error, 'PLUGINKIT_ERR_REGISTER', subject, 'bep', 'blueprint failed to load: ', 'any'))
      }
      loaded(instance)
      instance.after(childFailure)
      return undefined
    } catch (failure) {
      return asError(failure)
    }
  }
  const wrapper = blueprint.length >= 3
    ? function (this: FastifyInstance, instance: FastifyInstance, options: Record<string, unknown>, done: (error?: Error) => void) {
      let finished = false
      const finish = (error?: unknown) => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        done(settle(instance, error))
      }
      const timer = setTimeout(() => finish(late()), ms).unref()
      try {
        (blueprint as FastifyPluginCallback).call(this, instance, options, finish)
      } catch (error) {
        finish(asError(error))
      }
    }
    : async function (this: FastifyInstance, instance: FastifyInstance, options: Record<string, unknown>) {
      const loading = Promise.resolve().then(() => (blueprint as FastifyPluginAsync).call(this, instance, options))
      const error = settle(instance, await withTimeout(loading, ms, late).then(() => undefined, (failure: unknown) => asError(failure)))
      if (error !== undefined) throw error
    }
  const source = blueprint as unknown as Record<symbol, unknown>
  for (const key of [kSkipOverride, kPluginMeta]) if (source[key] !== undefined) Object.defineProperty(wrapper, key, { value: source[key] })
  // Names the context in Fastify's plugin tree, and spares Fastify a scan of require.cache per context.
  Object.defineProperty(wrapper, kDisplayName, { value: source[kDisplayName] ?? `fastify-pluginkit:${record.name}` })
  Object.defineProperty(wrapper, 'name', { value: blueprint.name || 'blueprint' })
  return wrapper as AnyPlugin
}
