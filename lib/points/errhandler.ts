import { Type } from 'typebox'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isAdminRequest } from '../admin-scope.js'
import { checker } from '../validation.js'
import { checkedList, definePoint, ExtensionPointError, isObject, type InstalledPlugin, type PluginTable } from './point.js'

export type ErrorHandler = (error: Error & { statusCode?: number }, request: FastifyRequest, reply: FastifyReply) => unknown
export type ErrorClass = abstract new (...args: never[]) => Error

export interface ErrorHandlerEntry {
  /** A status code, or an error class matched with instanceof. */
  match: number | ErrorClass
  handler: ErrorHandler
}

const Fn = Type.Function([], Type.Unknown(), { description: 'a function' })
const entry = checker(Type.Object({
  error: Type.Union([Type.Integer({ minimum: 100, maximum: 599 }), Fn], { description: 'a status code (100-599) or an error class' }),
  handler: Fn
}, { additionalProperties: false, description: 'an object { error, handler }' }))

/** Error handlers, `{ [status]: handler }` or an array of `{ error: status | ErrorClass, handler }`. */
export const errhandler = definePoint<
  Record<number, ErrorHandler> | Array<{ error: number | ErrorClass, handler: ErrorHandler }>,
  ErrorHandlerEntry[]
>({
  normalize (raw) {
    if (Array.isArray(raw)) {
      return checkedList<{ error: ErrorHandlerEntry['match'], handler: ErrorHandler }>('errhandler', raw, entry)
        .map(({ error, handler }) => ({ match: error, handler }))
    }
    if (!isObject(raw)) {
      throw new ExtensionPointError('errhandler', 'must be an object { statusCode: handler } or an array of { error, handler }')
    }
    return Object.entries(raw).map(([status, handler]) => {
      if (!/^[1-5]\d\d$/.test(status)) throw new ExtensionPointError(`errhandler.${status}`, 'is not an HTTP status code (100-599)')
      if (typeof handler !== 'function') throw new ExtensionPointError(`errhandler.${status}`, 'must be a function (error, request, reply)')
      return { match: Number(status), handler: handler as ErrorHandler }
    })
  },
  empty: () => [],
  install: ({ app, state }) => installErrorHandlers(app, state as PluginTable<HandlerPlugin>)
})

/** Enabled plugins' error handlers: class handlers first, then status handlers, each in load order. */
export interface ErrorHandlerTable {
  byClass: ErrorHandlerEntry[]
  byStatus: Map<number, ErrorHandler>
}

/** A plugin as the error handler sees it. */
type HandlerPlugin = InstalledPlugin<{ errhandler: ErrorHandlerEntry[] }>

function buildErrorHandlerTable (records: readonly HandlerPlugin[]): ErrorHandlerTable {
  const table: ErrorHandlerTable = { byClass: [], byStatus: new Map() }
  for (const record of records) {
    if (!record.enabled) continue
    for (const entry of record.contributions.errhandler) {
      if (typeof entry.match === 'number') {
        if (!table.byStatus.has(entry.match)) table.byStatus.set(entry.match, entry.handler)
      } else {
        table.byClass.push(entry)
      }
    }
  }
  return table
}

function statusOf (error: { statusCode?: unknown }): number {
  let status: unknown
  try {
    status = error.statusCode
  } catch {} // a plugin's throwing getter: a server error
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500
}

function notFoundError (request: FastifyRequest): Error & { statusCode: number } {
  return Object.assign(new Error(`Route ${request.method}:${request.url} not found`), { name: 'NotFoundError', statusCode: 404 })
}

/**
 * Plugins' `errhandler`s answer errors app-wide, falling back to the error handler the
 * app had when the kit was registered. Installed only when some plugin has one; a 404
 * handler also answers unknown routes (and disabled plugins' routes) through a
 * preHandler that sees the not-found context.
 */
export function installErrorHandlers (app: FastifyInstance, state: PluginTable<HandlerPlugin>): void {
  const { records } = state
  if (!records.some((record) => record.contributions.errhandler.length > 0)) return
  let table = buildErrorHandlerTable([])
  state.watch((current) => { table = buildErrorHandlerTable(current) })

  app.setErrorHandler(function pluginKitErrorHandler (
    this: FastifyInstance, error: FastifyError, request: FastifyRequest, reply: FastifyReply
  ) {
    // The admin answers its own errors; one it hands on goes past the plugins too.
    if (isAdminRequest(request)) return reply.send(error)
    const byClass = table.byClass.find((entry) => error instanceof (entry.match as ErrorClass))
    const handler = byClass?.handler ?? table.byStatus.get(statusOf(error))
    // Sending the error from an error handler hands it to the handler the app had before the
    // kit's (Fastify keeps them as a chain): it answers and logs once. Calling that handler
    // directly would log, then send the error on to the root handler, which logs again.
    if (handler === undefined) return reply.send(error)
    if (reply.statusCode < 400) reply.code(statusOf(error))
    return handler(error, request, reply)
  })

  if (records.some((record) => record.contributions.errhandler.some((entry) => entry.match === 404))) {
    app.addHook('preHandler', function pluginKitNotFound (request, _reply, done) {
      if (request.is404 && table.byStatus.has(404)) return done(notFoundError(request))
      done()
    })
  }
}
