import { existsSync, statSync } from 'node:fs'
import { join, relative, isAbsolute } from 'node:path'
import { Type } from 'typebox'
import type { FastifyPluginCallback, FastifyPluginAsync, RouteOptions } from 'fastify'
import { describe } from './errors.js'
import { PREFIX_PATTERN } from './options.js'
import { NAME_PATTERN } from './manifest.js'
import type { ErrorHandler, ExtensionPointKey, RequestHooks, TemplateFilter } from './types.js'
import { checker, closest, type Checker } from './validation.js'

const EXTENSION_POINT_KEYS: readonly ExtensionPointKey[] = ['bep', 'hep', 'vep', 'cvep', 'tep', 'filter', 'tcp', 'errhandler', 'p3']

export interface Blueprint {
  blueprint: FastifyPluginCallback | FastifyPluginAsync
  prefix: string
  parent: string | undefined
  options: Record<string, unknown>
}

export interface TemplateContribution {
  /** A file of the plugin's templates folder (`file`: its absolute path), or an inline nunjucks snippet. */
  template?: string
  file?: string
  code?: string
  order: number
}

export interface ErrorHandlerEntry {
  /** A status code, or an error class matched with instanceof. */
  match: number | (abstract new (...args: never[]) => Error)
  handler: ErrorHandler
}

/** A plugin's extension points, validated and in one shape each. */
export interface Contributions {
  bep: Blueprint[]
  hep: RequestHooks
  vep: Array<RouteOptions & { blueprint?: string }>
  cvep: Array<{ prefix: string, routes: RouteOptions[] }>
  tep: Map<string, TemplateContribution[]>
  filter: Array<[string, TemplateFilter]>
  tcp: Array<[string, unknown]>
  errhandler: ErrorHandlerEntry[]
  p3: Record<string, Record<string, (value: unknown) => unknown>>
}

const Fn = Type.Function([], Type.Unknown(), { description: 'a function' })
const Prefix = Type.String({ pattern: PREFIX_PATTERN, description: 'a prefix that starts with "/", does not end with "/" and has no "//" or spaces' })

const item: Record<'bep' | 'vep' | 'cvep' | 'tep' | 'errhandler', Checker> = {
  bep: checker(Type.Object({
    blueprint: Type.Function([], Type.Unknown(), { description: 'a Fastify plugin function' }),
    prefix: Type.Optional(Type.Union([Type.Null(), Prefix], { description: 'null or a prefix that starts with "/", does not end with "/" and has no "//" or spaces' })),
    parent: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'a plugin name' })),
    options: Type.Optional(Type.Object({}))
  }, { additionalProperties: false, description: 'an object { blueprint, prefix?, parent?, options? }' })),
  vep: checker(Type.Object({
    method: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))], { description: 'an HTTP method or an array of them' }),
    url: Type.String({ minLength: 1, description: 'a URL path' }),
    handler: Fn,
    blueprint: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'a plugin name' }))
  }, { description: 'a Fastify route options object' })),
  cvep: checker(Type.Object({
    controller: Type.Union([Fn, Type.Object({})], { description: 'a class or an object' }),
    prefix: Prefix
  }, { additionalProperties: false, description: 'an object { controller, prefix }' })),
  tep: checker(Type.Union([
    Type.String({ minLength: 1 }),
    Type.Object({
      template: Type.Optional(Type.String({ minLength: 1 })),
      code: Type.Optional(Type.String()),
      order: Type.Optional(Type.Number())
    }, { additionalProperties: false })
  ], { description: 'a template file name, an inline snippet, or { template?, code?, order? }' })),
  errhandler: checker(Type.Object({
    error: Type.Union([Type.Integer({ minimum: 100, maximum: 599 }), Fn], { description: 'a status code (100-599) or an error class' }),
    handler: Fn
  }, { additionalProperties: false, description: 'an object { error, handler }' }))
}

const whole: Record<'hep' | 'tcp' | 'p3', Checker> = {
  hep: checker(Type.Object({
    before_request: Type.Optional(Fn),
    after_request: Type.Optional(Fn),
    teardown_request: Type.Optional(Fn)
  }, { additionalProperties: false, description: 'an object { before_request?, after_request?, teardown_request? }' })),
  tcp: checker(Type.Object({}, { description: 'an object { key: value | (request) => value }' })),
  p3: checker(Type.Record(Type.String(), Type.Record(Type.String(), Fn, { description: 'an object { extensionPoint: (value) => value }' }), { description: 'an object { targetPlugin: { extensionPoint: (value) => value } }' }))
}

const TEMPLATE_FILE = /\.(html|htm|xhtml|njk)$/

export class ExtensionPointError extends Error {
  constructor (readonly field: string, detail: string, readonly code: 'PLUGINKIT_ERR_EXTENSION_POINT' | 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND' = 'PLUGINKIT_ERR_EXTENSION_POINT', readonly reason?: unknown) {
    super(detail)
  }
}

function check (value: unknown, schema: Checker, field: string): void {
  const problem = schema.problem(value)
  if (problem !== undefined) {
    throw new ExtensionPointError(problem.path === '' ? field : `${field}${problem.path.startsWith('[') ? '' : '.'}${problem.path}`, problem.message)
  }
}

function list (value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value]
}

function checkedList<T> (key: 'bep' | 'vep' | 'cvep' | 'errhandler', value: unknown): T[] {
  const items = list(value)
  items.forEach((entry, index) => check(entry, item[key], Array.isArray(value) ? `${key}[${index}]` : key))
  return items as T[]
}

function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
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

const CLASS_VIEW_METHODS: Record<string, [string, string]> = {
  index: ['GET', '/'],
  get: ['GET', '/:id'],
  post: ['POST', '/'],
  put: ['PUT', '/:id'],
  patch: ['PATCH', '/:id'],
  delete: ['DELETE', '/:id']
}

/** Flask-Classful routes of a controller class (instantiated once) or object. */
function classViewRoutes (controller: unknown, field: string): RouteOptions[] {
  let instance: Record<string, (...args: unknown[]) => unknown>
  try {
    instance = typeof controller === 'function' ? new (controller as new () => never)() : controller as never
  } catch (error) {
    throw new ExtensionPointError(`${field}.controller`, `cannot be instantiated: ${describe(error)}`, 'PLUGINKIT_ERR_EXTENSION_POINT', error)
  }
  return methodNames(instance).map((name) => {
    const [method, url] = CLASS_VIEW_METHODS[name] ?? ['GET', `/${name}`]
    const fn = instance[name] as (...args: unknown[]) => unknown
    return { method, url, handler: (request, reply) => fn.call(instance, request, reply) } satisfies RouteOptions
  })
}

function normalizeTep (value: unknown, templatesDir: string): Map<string, TemplateContribution[]> {
  if (!isObject(value)) throw new ExtensionPointError('tep', 'must be an object { slot: entry | entry[] }')
  const slots = new Map<string, TemplateContribution[]>()
  for (const [slot, entries] of Object.entries(value)) {
    const contributions = list(entries).map((entry, index): TemplateContribution => {
      const field = Array.isArray(entries) ? `tep.${slot}[${index}]` : `tep.${slot}`
      check(entry, item.tep, field)
      const normalized = typeof entry === 'string'
        ? (TEMPLATE_FILE.test(entry) ? { template: entry, order: 0 } : { code: entry, order: 0 })
        : { ...(entry as TemplateContribution), order: (entry as TemplateContribution).order ?? 0 }
      if ((normalized.template === undefined) === (normalized.code === undefined)) {
        throw new ExtensionPointError(field, 'needs exactly one of template or code')
      }
      if (normalized.template === undefined) return normalized
      return { ...normalized, file: checkTemplateFile(normalized.template, templatesDir, field) }
    })
    slots.set(slot, contributions)
  }
  return slots
}

/** The template's absolute path, checked to exist inside `templatesDir`. */
function checkTemplateFile (template: string, templatesDir: string, field: string): string {
  const path = join(templatesDir, template)
  const inside = relative(templatesDir, path)
  let found = false
  try {
    found = !inside.startsWith('..') && !isAbsolute(inside) && existsSync(path) && statSync(path).isFile()
  } catch {}
  if (!found) throw new ExtensionPointError(field, `template ${template} is not in ${templatesDir}`, 'PLUGINKIT_ERR_TEMPLATE_NOT_FOUND')
  return path
}

function normalizeFilters (value: unknown): Array<[string, TemplateFilter]> {
  if (isObject(value)) {
    return Object.entries(value).map(([name, fn]) => {
      if (typeof fn !== 'function') throw new ExtensionPointError(`filter.${name}`, 'must be a function')
      return [name, fn as TemplateFilter]
    })
  }
  if (!Array.isArray(value)) throw new ExtensionPointError('filter', 'must be an object { name: fn } or an array of fn / [name, fn]')
  return value.map((entry: unknown, index): [string, TemplateFilter] => {
    if (typeof entry === 'function' && entry.name !== '') return [entry.name, entry as TemplateFilter]
    if (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && entry[0] !== '' && typeof entry[1] === 'function') {
      return [entry[0], entry[1] as TemplateFilter]
    }
    throw new ExtensionPointError(`filter[${index}]`, 'must be a named function or a [name, function] pair')
  })
}

function normalizeErrorHandlers (value: unknown): ErrorHandlerEntry[] {
  if (Array.isArray(value)) {
    return checkedList<{ error: ErrorHandlerEntry['match'], handler: ErrorHandler }>('errhandler', value)
      .map(({ error, handler }) => ({ match: error, handler }))
  }
  if (!isObject(value)) throw new ExtensionPointError('errhandler', 'must be an object { statusCode: handler } or an array of { error, handler }')
  return Object.entries(value).map(([status, handler]) => {
    if (!/^[1-5]\d\d$/.test(status)) throw new ExtensionPointError(`errhandler.${status}`, 'is not an HTTP status code (100-599)')
    if (typeof handler !== 'function') throw new ExtensionPointError(`errhandler.${status}`, 'must be a function (error, request, reply)')
    return { match: Number(status), handler: handler as ErrorHandler }
  })
}

/** Rejects keys that are not extension points, before p3 transforms anything. */
export function checkKeys (points: Record<string, unknown>): void {
  for (const key of Object.keys(points)) {
    if (!(EXTENSION_POINT_KEYS as readonly string[]).includes(key)) {
      const guess = closest(key, EXTENSION_POINT_KEYS)
      throw new ExtensionPointError(key, `is not an extension point (${guess === undefined ? '' : `did you mean ${guess}? `}expected one of ${EXTENSION_POINT_KEYS.join(', ')})`)
    }
  }
}

/** Validates and normalises the object `register` returned. Throws {@link ExtensionPointError}. */
export function normalizeContributions (points: Record<string, unknown>, pluginDir: string): Contributions {
  checkKeys(points)
  const present = (key: ExtensionPointKey) => points[key] !== undefined
  if (present('hep')) check(points.hep, whole.hep, 'hep')
  if (present('tcp')) check(points.tcp, whole.tcp, 'tcp')
  if (present('p3')) check(points.p3, whole.p3, 'p3')
  return {
    bep: present('bep')
      ? checkedList<{ blueprint: Blueprint['blueprint'], prefix?: string | null, parent?: string, options?: Record<string, unknown> }>('bep', points.bep)
        .map((entry) => ({ blueprint: entry.blueprint, prefix: entry.prefix ?? '', parent: entry.parent, options: entry.options ?? {} }))
      : [],
    hep: (points.hep ?? {}) as RequestHooks,
    vep: present('vep') ? checkedList<RouteOptions & { blueprint?: string }>('vep', points.vep) : [],
    cvep: present('cvep')
      ? checkedList<{ controller: unknown, prefix: string }>('cvep', points.cvep)
        .map((entry, index) => ({ prefix: entry.prefix, routes: classViewRoutes(entry.controller, Array.isArray(points.cvep) ? `cvep[${index}]` : 'cvep') }))
      : [],
    tep: present('tep') ? normalizeTep(points.tep, join(pluginDir, 'templates')) : new Map(),
    filter: present('filter') ? normalizeFilters(points.filter) : [],
    tcp: present('tcp') ? Object.entries(points.tcp as Record<string, unknown>) : [],
    errhandler: present('errhandler') ? normalizeErrorHandlers(points.errhandler) : [],
    p3: (points.p3 ?? {}) as Contributions['p3']
  }
}
