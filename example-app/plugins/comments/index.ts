// A comments page that depends on the auth plugin: it reads the `auth` service in register
// (ctx.services, typed by the auth plugin's declaration merging) and `request.user` in its routes.
import type { FastifyInstance } from 'fastify'
import { definePlugin } from 'fastify-pluginkit'
// The auth plugin's types, and with them its `PluginServices` and `FastifyRequest` merging.
import type { AuthService } from '../auth/index.ts'

interface Comment {
  author: string
  text: string
}

function routes (auth: AuthService, comments: Comment[]) {
  return async function blueprint (app: FastifyInstance) {
    // HTML forms post urlencoded bodies; only this plugin's context parses them.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))))
    })
    app.get('/', (request, reply) => reply.view('comments/page.html', {
      title: 'Comments',
      user: request.user,
      accounts: auth.accounts(),
      comments
    }))
    app.post<{ Body: { text?: unknown } }>('/', async (request, reply) => {
      if (request.user === null) return reply.code(401).send({ error: 'sign in to comment' })
      const text = typeof request.body?.text === 'string' ? request.body.text.trim().slice(0, 500) : ''
      if (text === '') return reply.code(400).send({ error: 'text is required' })
      comments.push({ author: request.user.name, text })
      return reply.redirect('/comments/', 303)
    })
  }
}

export default definePlugin({
  name: 'comments',
  version: '1.0.0',
  author: 'fastify-pluginkit',
  description: 'Comments by signed-in users (uses the auth plugin)',
  dependencies: { auth: '^1.0.0' },
  register (ctx) {
    // Providers register first, so the service is there; reading a service of a plugin
    // not listed in dependencies would throw PLUGINKIT_ERR_SERVICE.
    const auth = ctx.services.auth
    const comments: Comment[] = [{ author: 'grace', text: 'First!' }]
    return { bep: { blueprint: routes(auth, comments), prefix: '/comments' } }
  }
})
