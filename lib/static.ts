import type { Stats } from 'node:fs'
import { realpath } from 'node:fs/promises'
import { join, sep } from 'node:path'
import type { FastifyError, FastifyInstance } from 'fastify'
import type { KitState } from './state.js'
import type { PluginRecord } from './record.js'

/** A plugin's static folder and the `sendFile` options that keep every file served inside it. */
interface StaticRoot {
  root: string
  options: { onFile: (file: string, stats: Stats) => Promise<void> }
}

/** Thrown (and answered as not found) for a file the route does not serve. */
class Refused extends Error {}

/** The headers @fastify/send sets for a file; they must not describe the not-found answer that replaces it. */
const FILE_HEADERS = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'cache-control', 'last-modified', 'etag']

/**
 * Only regular files (a FIFO would hang the request, a socket fail it) that resolve, with
 * symlinks followed, inside `root` (itself a realpath). Checked on every request: a
 * symlink may be re-pointed at any time.
 */
async function checkServable (root: string, file: string, stats: Stats): Promise<void> {
  if (!stats.isFile()) throw new Refused()
  const target = await realpath(file)
  if (!target.startsWith(root + sep)) throw new Refused()
}

function staticRoot (record: PluginRecord, root: string): StaticRoot {
  return {
    root,
    options: {
      // @fastify/send calls onFile with the very path it then streams (after its own decoding,
      // `..` and dotfile checks), for GET, HEAD and 304s alike.
      async onFile (file, stats) {
        await checkServable(root, file, stats)
        record.stats.requests++
      }
    }
  }
}

/**
 * `GET|HEAD {staticUrlPath}/:plugin/*` serves `<pluginDir>/static/*` through
 * @fastify/static's `sendFile` (ETag, Last-Modified, Range, 304, dotfiles denied, `..`
 * refused). One route for every plugin: a map lookup, the plugin's gate, then a realpath
 * check of the file about to be sent. Registered in its own context, so a host that
 * registers @fastify/static itself is unaffected.
 */
export function mountStatic (app: FastifyInstance, state: KitState, staticUrlPath: string): void {
  const roots = new Map<string, StaticRoot>()

  app.register(async function pluginKitStatic (instance) {
    await Promise.all(state.records.map(async (record) => {
      try {
        roots.set(record.name, staticRoot(record, await realpath(join(record.dir, 'static'))))
      } catch {}
    }))
    // @fastify/static (with @fastify/send, mime, glob: ~30 ms of loading) only when a plugin has files to serve.
    if (roots.size > 0) {
      const { default: fastifyStatic } = await import('@fastify/static')
      await instance.register(fastifyStatic, { serve: false, dotfiles: 'deny', index: false })
    }

    // A refused file and any file system error (ELOOP, EACCES, a file gone before it was
    // opened, ...) answer like an unknown URL: such errors' messages hold absolute paths,
    // which must not reach a client. Client errors (403 dotfiles, 416 ranges) pass on.
    instance.setErrorHandler((error: FastifyError, request, reply) => {
      const status = error.statusCode
      if (status !== undefined && status >= 400 && status < 500) throw error
      if (!(error instanceof Refused)) {
        request.log.warn({ err: error }, 'fastify-pluginkit: static file %s could not be served', request.url)
      }
      for (const name of FILE_HEADERS) reply.removeHeader(name)
      return reply.callNotFound()
    })

    instance.route<{ Params: { plugin: string, '*': string } }>({
      method: ['GET', 'HEAD'],
      url: `${staticUrlPath}/:plugin/*`,
      exposeHeadRoute: false,
      handler (request, reply) {
        const { plugin, '*': path } = request.params
        const served = roots.get(plugin)
        const record = state.byName.get(plugin)
        if (served === undefined || record === undefined || !record.enabled) return reply.callNotFound()
        return reply.sendFile(path, served.root, served.options)
      }
    })
  })
}
