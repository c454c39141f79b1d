import { Type } from 'typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AdminRoutes } from './admin.js'
import type { KitState } from './state.js'

export const ToggleBody = Type.Object({
  cascade: Type.Optional(Type.Boolean({ description: 'true or false' }))
}, { additionalProperties: false, description: 'a JSON object { "cascade"?: true | false }' })

/** The media type of the request body, lower case, without parameters. */
export function mediaType (request: FastifyRequest): string | undefined {
  return request.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
}

export function unsupportedMediaType (reply: FastifyReply, expected: string): FastifyReply {
  const message = `content-type must be ${expected}`
  return reply.code(415).send({ statusCode: 415, error: 'Unsupported Media Type', message })
}

/**
 * State changes through the API take a JSON body: a cross-site HTML form cannot send one
 * (another site's script cannot either, without a CORS preflight that the admin never grants).
 */
export async function requireJson (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (mediaType(request) !== 'application/json') return unsupportedMediaType(reply, 'application/json')
}

/** The plugins skipped at boot (strict: false), so that a site owner can see why one is missing. */
export function failuresOf (state: KitState): Array<{ plugin: string, dir?: string, code: string, message: string }> {
  return state.failures.map(({ plugin, dir, error }) =>
    ({ plugin, ...(dir === undefined ? {} : { dir }), code: error.code, message: error.message }))
}

/** `GET api/plugins`, `GET api/failures`, `POST api/plugins/:name/enable|disable` (SPEC section 9). */
export const pluginRoutes: AdminRoutes = (instance, { state }) => {
  instance.get('/api/plugins', async () => ({ plugins: state.records.map((record) => state.info(record.name)) }))
  instance.get('/api/failures', async () => ({ failures: failuresOf(state) }))

  for (const action of ['enable', 'disable'] as const) {
    instance.post<{ Params: { name: string }, Body: { cascade?: boolean } }>(`/api/plugins/:name/${action}`, {
      schema: { body: ToggleBody },
      preValidation: requireJson
    }, async (request) => {
      const cascade = request.body?.cascade === true
      const plugin = await state.setState(request.params.name, action === 'enable' ? 'enabled' : 'disabled', { cascade })
      return { plugin }
    })
  }
}
