// Who is asking: a demo sign-in that provides the `auth` service to other plugins and to the
// host, and decorates every request with `request.user` (filled from a cookie or a bearer token).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { definePlugin } from 'fastify-pluginkit'

export interface User {
  name: string
  admin: boolean
}

export interface AuthService {
  /** The user a token belongs to, or null. */
  userFor (token: string | undefined): User | null
  /** The demo accounts and their tokens, for sign-in links. */
  accounts (): Array<{ name: string, token: string }>
}

// Declaration merging: every plugin and the host that imports these types gets them checked.
declare module 'fastify-pluginkit' {
  interface PluginServices {
    auth: AuthService
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user; null when signed out or while the auth plugin is disabled. */
    user: User | null
  }
}

const COOKIE = 'demo_token'

// Demo accounts: a real plugin would look tokens up in a session store.
const tokens = new Map<string, User>([
  ['ada-token', { name: 'ada', admin: true }],
  ['grace-token', { name: 'grace', admin: false }]
])

const auth: AuthService = {
  userFor: (token) => (token === undefined ? undefined : tokens.get(token)) ?? null,
  accounts: () => [...tokens].map(([token, user]) => ({ name: user.name, token }))
}

function tokenOf (request: FastifyRequest): string | undefined {
  const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1]
  if (bearer !== undefined) return bearer
  const cookie = (request.headers.cookie ?? '').split(';').map((part) => part.trim()).find((part) => part.startsWith(`${COOKIE}=`))
  return cookie === undefined ? undefined : decodeURIComponent(cookie.slice(COOKIE.length + 1))
}

async function blueprint (app: FastifyInstance) {
  app.get<{ Params: { token: string } }>('/sign-in/:token', async (request, reply) => {
    if (auth.userFor(request.params.token) === null) return reply.code(404).send({ error: 'unknown account' })
    const cookie = `${COOKIE}=${encodeURIComponent(request.params.token)}; Path=/; HttpOnly; SameSite=Lax`
    return reply.header('set-cookie', cookie).redirect('/comments/')
  })
  app.get('/sign-out', async (_request, reply) =>
    reply.header('set-cookie', `${COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`).redirect('/comments/'))
  app.get('/me', async (request) => ({ user: request.user }))
}

export default definePlugin({
  name: 'auth',
  version: '1.0.0',
  author: 'fastify-pluginkit',
  description: 'Demo sign-in: the auth service and request.user',
  register () {
    return {
      provide: { auth },
      // null here, set per request by the hook below (one object would be shared by every request).
      decorate: { request: { user: null } },
      hep: {
        before_request (request: FastifyRequest) {
          request.user = auth.userFor(tokenOf(request))
        }
      },
      bep: { blueprint, prefix: '/auth' }
    }
  }
})
