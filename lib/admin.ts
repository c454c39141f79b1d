import helmet from '@fastify/helmet'
import type { TSchema } from 'typebox'
import type { FastifyError, FastifyInstance } from 'fastify'
import { pluginRoutes } from './admin-api.js'
import { pageRoutes } from './admin-forms.js'
import { installRoutes } from './admin-install.js'
import { observabilityRoutes } from './admin-observability.js'
import { markAdminContext } from './admin-scope.js'
import type { KitState } from './state.js'
import type { ResolvedInstallOptions, ResolvedOptions } from './options.js'
import { checker } from './validation.js'

/** What the admin's route modules get. */
export interface AdminContext {
  state: KitState
  admin: NonNullable<ResolvedOptions['admin']>
  /** Run-time install (SPEC section 11): its routes and controls exist only with it. */
  install: ResolvedInstallOptions | undefined
  /** The kit's options, for admin routes that depend on other ones. */
  options: ResolvedOptions | undefined
}

/**
 * Mounts some of the admin's routes into its context, where authorize, the security headers,
 * the strict validator and the JSON error handler are already in place. A new admin feature
 * is one such function, added to ADMIN_ROUTES.
 */
export type AdminRoutes = (instance: FastifyInstance, context: AdminContext) => void | Promise<void>

/**
 * In mounting order: the install routes register @fastify/multipart in the admin's context,
 * which the page's form context, registered after it, inherits.
 */
export const ADMIN_ROUTES: AdminRoutes[] = [pluginRoutes, observabilityRoutes, installRoutes, pageRoutes]

/**
 * The admin: a JSON API and a server-rendered HTML page under `prefix`, in their own
 * context, out of the plugins' reach (admin-scope.ts). Every route first runs `authorize`;
 * API state changes need a JSON body, which a cross-site HTML form cannot send, and the page's
 * forms are checked to come from the page's own origin (admin-csrf.ts). Errors map to their
 * status codes: 404 unknown plugin, 409 dependency conflict, 503 store failure, and the
 * install engine's own.
 */
export function mountAdmin (
  app: FastifyInstance, state: KitState, admin: NonNullable<ResolvedOptions['admin']>, options?: ResolvedOptions
): void {
  const context: AdminContext = { state, admin, install: options?.install, options }
  app.register(async function pluginKitAdmin (instance) {
    markAdminContext(instance)
    // Registered first, so that its onRequest hooks run before authorize and a 401 gets the
    // headers too. It adds a fresh script and style nonce to the CSP of every response.
    await instance.register(helmet, {
      enableCSPNonces: true,
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: [],
          styleSrc: [],
          connectSrc: ["'self'"],
          baseUri: ["'none'"],
          // The page's controls are forms that post to the admin itself.
          formAction: ["'self'"],
          frameAncestors: ["'none'"]
        }
      },
      frameguard: { action: 'deny' },
      // Like no-referrer for every other site, but the page's form posts keep their Origin
      // header, which older browsers' same-origin check needs (admin-csrf.ts).
      referrerPolicy: { policy: 'same-origin' },
      // HSTS covers the whole host for a year: the host's decision, not its admin page's.
      strictTransportSecurity: false
    })

    instance.addHook('onRequest', async (request, reply) => {
      const allowed = await admin.authorize(request, reply)
      if (reply.sent) return reply
      if (!allowed) return reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: 'admin authorization required' })
    })

    // Plugins' error handlers must not answer for the admin.
    instance.setErrorHandler((error: FastifyError, request, reply) => {
      const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
      if (statusCode >= 500) request.log.error({ err: error }, 'fastify-pluginkit admin: %s', error.message)
      return reply.code(statusCode).send({ statusCode, code: error.code, error: error.name, message: error.message })
    })

    // Fastify's default validator coerces types and drops unknown keys (`{"cascade":"true"}`
    // would pass as `true`); admin requests are checked strictly instead: 400, naming the key.
    instance.setValidatorCompiler(({ schema, httpPart = 'body' }) => {
      const check = checker(schema as TSchema)
      return (value: unknown) => {
        const problem = check.problem(value)
        if (problem === undefined) return { value }
        return { error: new Error(`${httpPart}${problem.path === '' ? '' : `.${problem.path}`} ${problem.message}`) }
      }
    })

    // `{ "cascade": true }` is optional: an empty JSON body means `{}`.
    const parseJson = instance.getDefaultJsonParser('error', 'error')
    instance.removeContentTypeParser('application/json')
    instance.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      if (body === '') return done(null, {})
      parseJson(request, body as string, done)
    })

    for (const mount of ADMIN_ROUTES) await mount(instance, context)
  }, { prefix: admin.prefix })
}
