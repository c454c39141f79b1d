import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** The user name the admin's HTTP Basic login expects. */
export const ADMIN_USER = 'admin'

const challenge = 'Basic realm="pluginkit", charset="UTF-8"'

function digest (value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

/**
 * An `authorize(request, reply)` for the kit's `admin` option: HTTP Basic auth with the
 * user `admin` and `token` as the password. The credentials are compared as SHA-256
 * digests (equal length) with `timingSafeEqual`, so the comparison time does not depend
 * on how much of the secret a guess got right. On failure the browser is asked to log in
 * (`WWW-Authenticate`) and `false` is returned, which the kit answers with 401.
 *
 *     admin: { authorize: basicAuthorize(process.env.PLUGINKIT_ADMIN_TOKEN ?? '') }
 */
export function basicAuthorize (token: string): (request: FastifyRequest, reply: FastifyReply) => boolean {
  if (typeof token !== 'string' || token === '') throw new TypeError('basicAuthorize: the admin token must be a non-empty string')
  const expected = digest(`${ADMIN_USER}:${token}`)

  return function authorize (request, reply) {
    const header = request.headers.authorization ?? ''
    const match = /^Basic[ \t]+([A-Za-z0-9+/=._~-]+)[ \t]*$/i.exec(header)
    const given = match?.[1] === undefined ? undefined : Buffer.from(match[1], 'base64').toString('utf8')
    // Always run one comparison, so a missing header costs the same as a wrong one.
    const ok = timingSafeEqual(digest(given ?? ''), expected) && given !== undefined
    if (!ok) reply.header('www-authenticate', challenge)
    return ok
  }
}
