import { mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export type HandlerStyle = 'async' | 'sync' | 'none'
export type Language = 'js' | 'ts'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')

/** What plugin i's route answers, the same for the kit, hand-wired, bare and autoload. */
const greeting = (index: number) => `Hello from p${index}`

/**
 * Plugin i as `fastify-pluginkit new` writes one (and the README teaches): `definePlugin`
 * from the installed package, a TypeBox `configSchema`, a blueprint at /p<i> with GET /;
 * unless style is 'none', a before_request that short-circuits when the request has header
 * x-stop-<i>, and a no-op after_request.
 */
export function pluginSource (index: number, style: HandlerStyle, language: Language = 'js'): string {
  const ts = language === 'ts'
  const asyncKeyword = style === 'async' ? 'async ' : ''
  const stop = `request.headers['x-stop-${index}'] !== undefined`
  const hooks = style === 'none'
    ? ''
    : `,
      hep: {
        ${asyncKeyword}before_request (request${ts ? ': FastifyRequest' : ''}) { if (${stop}) return 'stopped' },
        ${asyncKeyword}after_request () {}
      }`
  const types = style === 'none' ? 'FastifyInstance' : 'FastifyInstance, FastifyRequest'
  return `${ts ? `import type { ${types} } from 'fastify'\n` : ''}import { definePlugin } from 'fastify-pluginkit'
import { Type } from 'typebox'

export default definePlugin({
  name: 'p${index}',
  version: '0.1.0',
  author: 'bench',
  description: 'The p${index} plugin',
  configSchema: Type.Object({
    greeting: Type.String({ default: '${greeting(index)}' })
  }),
  register (ctx) {
    const { greeting } = ctx.config
    return {
      bep: {
        prefix: '/p${index}',
        async blueprint (app${ts ? ': FastifyInstance' : ''}) {
          app.get('/', async () => ({ plugin: ctx.name, greeting }))
        }
      }${hooks}
    }
  }
})
`
}

const routeSource = (index: number) => `app.get('/', async () => ({ plugin: 'p${index}', greeting: '${greeting(index)}' }))`

/**
 * The hand-wired equivalent of plugin i, as its own module (N plugins are N modules, so
 * the hooks are N distinct functions, as in a real app): routes in an encapsulated
 * context, and app-wide hooks doing the same work (fastify-plugin, so not encapsulated).
 */
export function handSource (index: number, style: HandlerStyle): string {
  const stop = `request.headers['x-stop-${index}'] !== undefined`
  const hooks = style === 'async'
    ? `  app.addHook('onRequest', async (request, reply) => { if (${stop}) return reply.send('stopped') })
  app.addHook('onSend', async (request, reply, payload) => payload)`
    : `  app.addHook('onRequest', (request, reply, done) => { if (${stop}) reply.send('stopped'); else done() })
  app.addHook('onSend', (request, reply, payload, done) => { done(null, payload) })`
  return `import fp from 'fastify-plugin'

export async function routes (app) { ${routeSource(index)} }

export const hooks = fp(async function hooks${index} (app) {
${hooks}
})
`
}

/**
 * The host project the generated code lives in, like an application that installed the kit:
 * a package.json ("type": "module") and node_modules links to this checkout (built) and to
 * the packages the plugins and servers import.
 */
export async function hostProject (root: string): Promise<string> {
  const host = join(root, 'host')
  await mkdir(join(host, 'node_modules', '@fastify'), { recursive: true })
  await writeFile(join(host, 'package.json'), JSON.stringify({ name: 'bench-host', private: true, type: 'module' }, null, 2) + '\n')
  const links: Array<[string, string]> = [
    ['fastify-pluginkit', repo],
    ...['fastify', 'fastify-plugin', 'typebox', 'tsx', '@fastify/autoload', '@fastify/restartable']
      .map((name): [string, string] => [name, join(repo, 'node_modules', name)])
  ]
  for (const [name, target] of links) {
    const path = join(host, 'node_modules', name)
    await rm(path, { recursive: true, force: true })
    await symlink(target, path, 'junction')
  }
  return host
}

/**
 * Writes N plugin folders for the kit, N hand-wired modules, and N route folders for
 * @fastify/autoload (`index.mjs`, or `index.ts` for TypeScript), in the host project.
 */
export async function generate (
  root: string,
  count: number,
  style: HandlerStyle,
  language: Language = 'js'
): Promise<{ plugins: string, hand: string, autoload: string }> {
  const host = await hostProject(root)
  const plugins = join(host, `plugins-${count}-${style}-${language}`)
  const hand = join(host, `hand-${count}-${style}`)
  const autoload = join(host, `autoload-${count}-${language}`)
  const extension = language === 'ts' ? 'ts' : 'mjs'
  const autoloadSource = (index: number) => language === 'ts'
    ? `import type { FastifyInstance } from 'fastify'\n\nexport default async function (app: FastifyInstance) { ${routeSource(index)} }\n`
    : `export default async function (app) { ${routeSource(index)} }\n`
  for (const folder of [plugins, hand, autoload]) await rm(folder, { recursive: true, force: true })
  await mkdir(hand, { recursive: true })
  for (let index = 0; index < count; index++) {
    await writeFile(join(hand, `p${index}.mjs`), handSource(index, style))
    await mkdir(join(plugins, `p${index}`), { recursive: true })
    await writeFile(join(plugins, `p${index}`, `index.${extension}`), pluginSource(index, style, language))
    await mkdir(join(autoload, `p${index}`), { recursive: true })
    await writeFile(join(autoload, `p${index}`, `index.${extension}`), autoloadSource(index))
  }
  return { plugins, hand, autoload }
}
