// The Flask-PluginKit quickstart plugin, ported: requests for the index page coming
// from `limitIp` are redirected to /limit, which denies access.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { definePlugin } from 'fastify-pluginkit'
import { Type } from 'typebox'

async function blueprint (app: FastifyInstance) {
  app.get('/limit', async () => ({ status: 0, message: 'Access Denial' }))
}

function clientIp (request: FastifyRequest): string {
  const realIp = request.headers['x-real-ip']
  return (Array.isArray(realIp) ? realIp[0] : realIp) ?? request.ip
}

export default definePlugin({
  name: 'helloworld',
  version: '0.1.0',
  author: 'staugur',
  description: 'A Plugin Demo: limits access to the index page',
  configSchema: Type.Object({
    limitIp: Type.String({ default: '127.0.0.1' })
  }),
  register (ctx) {
    const { limitIp } = ctx.config
    return {
      bep: { blueprint, prefix: null },
      hep: {
        before_request (request: FastifyRequest, reply: FastifyReply) {
          if (request.routeOptions.url === '/' && clientIp(request) === limitIp) {
            return reply.redirect('/limit')
          }
        }
      }
    }
  }
})
