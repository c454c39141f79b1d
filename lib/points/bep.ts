import { Type } from 'typebox'
import type { FastifyPluginAsync, FastifyPluginCallback, FastifyPluginOptions } from 'fastify'
import { NAME_PATTERN, PREFIX_PATTERN } from '../constants.js'
import { checker } from '../validation.js'
import type { Blueprint } from './blueprint-loading.js'
import { mountRoutes, type RoutePlugin } from './routes.js'
import { checkedList, definePoint, ExtensionPointError } from './point.js'

export type { Blueprint }

/** What a plugin writes: `bep: { blueprint, prefix?, parent?, options? }` or an array of them. */
export interface BlueprintEntry<Options extends FastifyPluginOptions = FastifyPluginOptions> {
  blueprint: FastifyPluginCallback<Options> | FastifyPluginAsync<Options>
  /** Starts with `/`, does not end with `/`; null or absent: no prefix. */
  prefix?: string | null
  /** Nest inside this plugin's (first) blueprint context; prefixes are concatenated. */
  parent?: string
  options?: Options
}

export const prefixDescription = 'a prefix that starts with "/", does not end with "/" and has no "//" or spaces'

const entry = checker(Type.Object({
  blueprint: Type.Function([], Type.Unknown(), { description: 'a Fastify plugin function' }),
  prefix: Type.Optional(Type.Union([Type.Null(), Type.String({ pattern: PREFIX_PATTERN })],
    { description: `null or ${prefixDescription}` })),
  parent: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'a plugin name' })),
  options: Type.Optional(Type.Object({}))
}, { additionalProperties: false, description: 'an object { blueprint, prefix?, parent?, options? }' }))

/** Blueprints: Fastify plugins registered in their own gated context; its installation mounts vep and cvep too (routes.ts). */
export const bep = definePoint<BlueprintEntry | BlueprintEntry[], Blueprint[]>({
  normalize: (raw) => checkedList<BlueprintEntry>('bep', raw, entry)
    .map((item) => ({ blueprint: item.blueprint, prefix: item.prefix ?? '', parent: item.parent, options: item.options ?? {} })),
  empty: () => [],
  // `parent` names a loaded plugin with a blueprint, and nesting has no cycle.
  references (blueprints, plugin, blueprintOf) {
    for (const [index, { parent }] of blueprints.entries()) {
      if (parent === undefined) continue
      const field = blueprints.length > 1 ? `bep[${index}].parent` : 'bep.parent'
      if (blueprintOf(parent) === undefined) return new ExtensionPointError(field, `plugin "${parent}" is not loaded or has no blueprint`)
      const chain = [plugin]
      for (let next: string | undefined = parent; next !== undefined; next = blueprintOf(next)?.parent) {
        if (chain.includes(next)) return new ExtensionPointError(field, `blueprint nesting cycle: ${[...chain, next].join(' -> ')}`)
        chain.push(next)
      }
    }
    return undefined
  },
  registersContexts: true,
  install: ({ app, state, loadTimeout, quarantine, dropped, observe }) => mountRoutes(app, state.records as readonly RoutePlugin[], {
    loadTimeout,
    onRouteError: quarantine?.onRouteError,
    onMountError: dropped,
    onContext: observe?.pluginContext
  })
})
