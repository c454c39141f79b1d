import helmet from '@fastify/helmet'
import { Type, type TSchema } from 'typebox'
import type { FastifyError, FastifyInstance } from 'fastify'
import { adminPage } from './admin-page.js'
import type { KitState } from './state.js'
import type { ResolvedOptions } from './options.js'
import { checker } from './validation.js'

const ToggleBody = Type.Object({
  cascade: Type.Optional(Type.Boolean({ description: 'true or false' }))
}, { additionalProperties: false, description: 'a JSON object { "cascade"?: true | false }' })

/**
 * The admin: a JSON API and a self-contained HTML page under `prefix`, in their own
 * context. Every route first runs `authorize`; state changes need a JSON body, which a
 * cross-site HTML form cannot send. Errors map to 404 (unknown plugin), 409 (dependency
 * conflict) and 503 (store failure) through the kit errors' status codes.
 */
export function mountAdmin (app: FastifyInstance, state: KitState, admin: NonNullable<ResolvedOptions['admin']>): void {
  app.register(async function pluginKitAdmin (instance) {
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
          formAction: ["'none'"],
          frameAncestors: ["'none'"]
        }
      },
      frameguard: { action: 'deny' },
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

    instance.get('/api/plugins', async () => ({ plugins: state.records.map((record) => state.info(record.name)) }))
    // Plugins skipped at boot (strict: false), so that a site owner can see why one is missing.
    instance.get('/api/failures', async () => ({
      failures: state.failures.map(({ plugin, dir, error }) =>
        ({ plugin, ...(dir === undefined ? {} : { dir }), code: error.code, message: error.message }))
    }))

    for (const action of ['enable', 'disable'] as const) {
      instance.post<{ Params: { name: string }, Body: { cascade?: boolean } }>(`/api/plugins/:name/${action}`, {
        schema: { body: ToggleBody },
        preValidation: async (request, reply) => {
          if (request.headers['content-type']?.split(';')[0]?.trim().toLowerCase() !== 'application/json') {
            const message = 'content-type must be application/json'
            return reply.code(415).send({ statusCode: 415, error: 'Unsupported Media Type', message })
          }
        }
      }, async (request) => {
        const cascade = request.body?.cascade === true
        const plugin = await state.setState(request.params.name, action === 'enable' ? 'enabled' : 'disabled', { cascade })
        return { plugin }
      })
    }

    instance.get('/', async (_request, reply) => {
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(adminPage(admin.prefix, reply.cspNonce))
    })
  }, { prefix: admin.prefix })
}
