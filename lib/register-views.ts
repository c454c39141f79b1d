import type nunjucks from 'nunjucks'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { ResolvedOptions } from './options.js'
import type { PluginRecord } from './record.js'
import { importNunjucks, templateSearchPath, type Rendering, type Views } from './views.js'

const kLocals = Symbol('pluginKit.locals')

/**
 * Registers @fastify/view with nunjucks over the kit's template search path, and makes
 * `reply.locals` start from the enabled plugins' context processors (computed only when
 * read), so `reply.view` data > `reply.locals` > `tcp`.
 */
export async function registerViews (
  app: FastifyInstance, views: Views, view: NonNullable<ResolvedOptions['view']>, records: PluginRecord[]
): Promise<Rendering> {
  const [nunjucks, { default: fastifyView }] = await Promise.all([importNunjucks(), import('@fastify/view')])
  const { onConfigure, ...nunjucksOptions } = view.options
  app.decorateReply('locals', {
    getter (this: FastifyReply & { [kLocals]?: Record<string, unknown> }) {
      this[kLocals] ??= views.contextFor(this.request)
      return this[kLocals]
    },
    setter (this: FastifyReply & { [kLocals]?: Record<string, unknown> }, value: Record<string, unknown>) {
      this[kLocals] = value
    }
  })
  let environment: nunjucks.Environment | undefined
  await app.register(fastifyView, {
    engine: { nunjucks },
    templates: templateSearchPath(view.templates, records),
    options: {
      ...nunjucksOptions,
      onConfigure (env: nunjucks.Environment) {
        environment = env
        onConfigure?.(env)
      }
    }
  })
  // @fastify/view builds its Environment while it registers, so it exists by now.
  return { env: environment as nunjucks.Environment, nunjucks }
}
