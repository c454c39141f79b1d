import { Type } from 'typebox'
import type { RouteOptions } from 'fastify'
import { NAME_PATTERN } from '../constants.js'
import { checker } from '../validation.js'
import { checkedList, definePoint, ExtensionPointError } from './point.js'

/** A Fastify route, optionally added inside another plugin's blueprint context. */
export type ViewRoute = RouteOptions & { blueprint?: string }

const route = checker(Type.Object({
  method: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))],
    { description: 'an HTTP method or an array of them' }),
  url: Type.String({ minLength: 1, description: 'a URL path' }),
  handler: Type.Function([], Type.Unknown(), { description: 'a function' }),
  blueprint: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'a plugin name' }))
}, { description: 'a Fastify route options object' }))

/** Routes (mounted by routes.ts). */
export const vep = definePoint<ViewRoute | ViewRoute[], ViewRoute[]>({
  normalize: (raw) => checkedList<ViewRoute>('vep', raw, route),
  empty: () => [],
  // `blueprint` names a loaded plugin with a blueprint.
  references (routes, _plugin, blueprintOf) {
    for (const [index, { blueprint }] of routes.entries()) {
      if (blueprint !== undefined && blueprintOf(blueprint) === undefined) {
        return new ExtensionPointError(routes.length > 1 ? `vep[${index}].blueprint` : 'vep.blueprint',
          `plugin "${blueprint}" is not loaded or has no blueprint`)
      }
    }
    return undefined
  }
})
