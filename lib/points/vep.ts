import { Type } from 'typebox'
import type { RouteOptions } from 'fastify'
import { NAME_PATTERN } from '../manifest.js'
import { checker } from '../validation.js'
import { checkedList, definePoint } from './point.js'

/** A Fastify route, optionally added inside another plugin's blueprint context. */
export type ViewRoute = RouteOptions & { blueprint?: string }

const route = checker(Type.Object({
  method: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))], { description: 'an HTTP method or an array of them' }),
  url: Type.String({ minLength: 1, description: 'a URL path' }),
  handler: Type.Function([], Type.Unknown(), { description: 'a function' }),
  blueprint: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'a plugin name' }))
}, { description: 'a Fastify route options object' }))

/** Routes (mounted by routes.ts). */
export const vep = definePoint<ViewRoute | ViewRoute[], ViewRoute[]>({
  normalize: (raw) => checkedList<ViewRoute>('vep', raw, route),
  empty: () => []
})
