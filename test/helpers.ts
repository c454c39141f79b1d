import { mkdtemp, mkdir, writeFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after } from 'node:test'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import pluginKit, { type PluginKitOptions } from 'fastify-pluginkit'

/** A tree of files: path -> content (a string), or { symlink: target }. */
export type Tree = Record<string, string | { symlink: string }>

/** Writes `tree` under a fresh temporary folder (removed after the test file) and returns its path. */
export async function makeTree (tree: Tree): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pluginkit-test-'))
  after(() => rm(root, { recursive: true, force: true }))
  for (const [path, content] of Object.entries(tree)) {
    const full = join(root, path)
    await mkdir(dirname(full), { recursive: true })
    if (typeof content === 'string') await writeFile(full, content)
    else await symlink(content.symlink, full)
  }
  return root
}

/**
 * A Fastify app hosting the kit over `base` (a folder from makeTree), not yet ready.
 * Defaults to the memory store so tests do not write state files unless they ask to.
 */
export async function buildApp (base: string, options: PluginKitOptions = {}, fastifyOptions: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, ...fastifyOptions })
  after(() => app.close())
  app.get('/', async () => 'hello world')
  await app.register(pluginKit, { pluginsBase: base, store: 'memory', ...options })
  return app
}

/** An ESM plugin module source with the given manifest fields and register body. */
export function esmPlugin (fields: Record<string, unknown>, registerBody = 'return {}'): string {
  return `export default {\n  ...${JSON.stringify(fields)},\n  register (ctx) { ${registerBody} }\n}\n`
}
