import { realpath } from 'node:fs/promises'
import { join, sep } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import type { KitState } from './kit.js'

/**
 * `GET|HEAD {staticUrlPath}/:plugin/*` serves `<pluginDir>/static/*` through
 * @fastify/static's `sendFile` (ETag, Last-Modified, Range, 304, dotfiles denied, `..`
 * refused). One route for every plugin: a map lookup, the plugin's gate, then a realpath
 * check so that a symlink cannot lead outside the plugin's `static/` folder. Registered in
 * its own context, so a host that registers @fastify/static itself is unaffected.
 */
export function mountStatic (app: FastifyInstance, state: KitState, staticUrlPath: string): void {
  const roots = new Map<string, string>()
  // realpath results for files that resolved inside their root: a symlink inside static/ is
  // plugin code, fixed until the plugin is redeployed, so repeated requests skip the syscall.
  // Bounded; misses (missing files, escapes) are never cached.
  const inside = new Set<string>()

  app.register(async function pluginKitStatic (instance) {
    await Promise.all(state.records.map(async (record) => {
      try {
        roots.set(record.name, await realpath(join(record.dir, 'static')))
      } catch {}
    }))
    await instance.register(fastifyStatic, { serve: false, dotfiles: 'deny', index: false })

    instance.route<{ Params: { plugin: string, '*': string } }>({
      method: ['GET', 'HEAD'],
      url: `${staticUrlPath}/:plugin/*`,
      exposeHeadRoute: false,
      async handler (request, reply) {
        const { plugin, '*': path } = request.params
        const root = roots.get(plugin)
        const record = state.byName.get(plugin)
        if (root === undefined || record === undefined || !record.enabled) return reply.callNotFound()
        const file = join(root, path)
        if (!inside.has(file)) {
          let target: string
          try {
            target = await realpath(file)
          } catch {
            // Missing files and malformed paths: let sendFile answer (404 / 403) as it would.
            return reply.sendFile(path, root)
          }
          if (!target.startsWith(root + sep)) return reply.callNotFound()
          if (inside.size >= 10000) inside.clear()
          inside.add(file)
        }
        record.stats.requests++
        return reply.sendFile(path, root)
      }
    })
  })
}
