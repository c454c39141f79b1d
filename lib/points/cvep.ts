import { Type } from 'typebox'
import type { RouteOptions } from 'fastify'
import { describe } from '../errors.js'
import { own } from '../objects.js'
import { PREFIX_PATTERN } from '../constants.js'
import { checker } from '../validation.js'
import { prefixDescription } from './bep.js'
import { checkedList, definePoint, ExtensionPointError } from './point.js'

export type ControllerClass = new () => object
export interface ClassView {
  controller: ControllerClass | object
  prefix: string
}

const view = checker(Type.Object({
  controller: Type.Union([Type.Function([], Type.Unknown()), Type.Object({})], { description: 'a class or an object' }),
  prefix: Type.String({ pattern: PREFIX_PATTERN, description: prefixDescription })
}, { additionalProperties: false, description: 'an object { controller, prefix }' }))

/** Flask-Classful's method names; every other public method `m` is GET `/m`. */
const CLASS_VIEW_METHODS: Record<string, [string, string]> = {
  index: ['GET', '/'],
  get: ['GET', '/:id'],
  post: ['POST', '/'],
  put: ['PUT', '/:id'],
  patch: ['PATCH', '/:id'],
  delete: ['DELETE', '/:id']
}

/** Names of an object's callable routes: own and inherited methods, not `constructor`, not `_private`. */
function methodNames (instance: object): string[] {
  const names = new Set<string>()
  for (let proto: object | null = instance; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || name.startsWith('_')) continue
      const descriptor = Object.getOwnPropertyDescriptor(proto, name)
      if (descriptor !== undefined && typeof descriptor.value === 'function') names.add(name)
    }
  }
  return [...names]
}

/** Flask-Classful routes of a controller class (instantiated once) or object. */
function classViewRoutes (controller: unknown, field: string): RouteOptions[] {
  let instance: Record<string, (...args: unknown[]) => unknown>
  try {
    instance = typeof controller === 'function' ? new (controller as new () => never)() : controller as never
  } catch (error) {
    throw new ExtensionPointError(`${field}.controller`, `cannot be instantiated: ${describe(error)}`,
      'PLUGINKIT_ERR_EXTENSION_POINT', error)
  }
  return methodNames(instance).map((name) => {
    const [method, url] = own(CLASS_VIEW_METHODS, name) ?? ['GET', `/${name}`]
    const fn = instance[name] as (...args: unknown[]) => unknown
    return { method, url, handler: (request, reply) => fn.call(instance, request, reply) } satisfies RouteOptions
  })
}

/** Class-based views (mounted by routes.ts). */
export const cvep = definePoint<ClassView | ClassView[], Array<{ prefix: string, routes: RouteOptions[] }>>({
  normalize: (raw) => checkedList<ClassView>('cvep', raw, view)
    .map((item, index) => ({
      prefix: item.prefix,
      routes: classViewRoutes(item.controller, Array.isArray(raw) ? `cvep[${index}]` : 'cvep')
    })),
  empty: () => []
})
