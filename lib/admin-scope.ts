import type { FastifyInstance, FastifyRequest } from 'fastify'

/**
 * The admin's contexts (its own and any it registers). Plugins' request hooks and error
 * handlers skip requests routed to them, so a plugin can never lock the site owner out of
 * the admin (a maintenance `before_request` answering 503 everywhere, say).
 */
const adminContexts = new WeakSet<object>()

/** Makes `instance` and every context registered inside it an admin context. */
export function markAdminContext (instance: FastifyInstance): void {
  adminContexts.add(instance)
  instance.addHook('onRegister', (child) => { adminContexts.add(child) })
}

/**
 * Whether the request was routed to an admin route. `request.server` is the context that
 * declared the matched route (a getter reading one field), so this is a getter and a
 * WeakSet lookup, about 10 ns, with no allocation: cheap enough to ask in every phase of
 * every request. (`request.routeOptions.config` would allocate a fresh options object per
 * read, 40-70 ns.) Unknown URLs under the admin prefix are not admin routes: they are
 * answered by the app's not-found handling like any other.
 */
export function isAdminRequest (request: FastifyRequest): boolean {
  return adminContexts.has(request.server)
}
