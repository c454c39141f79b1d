import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export type HandlerStyle = 'async' | 'sync' | 'none'

/**
 * Plugin i: a blueprint at /p<i> with GET /, and (unless style is 'none') a before_request
 * that short-circuits when the request has header x-stop-<i>, plus a no-op after_request.
 */
export function pluginSource (index: number, style: HandlerStyle): string {
  const asyncKeyword = style === 'async' ? 'async ' : ''
  const stop = `request.headers['x-stop-${index}'] !== undefined`
  const hooks = style === 'none'
    ? ''
    : `,
      hep: {
        ${asyncKeyword}before_request (request) { if (${stop}) return 'stopped' },
        ${asyncKeyword}after_request () {}
      }`
  return `export default {
  name: 'p${index}',
  version: '1.0.0',
  author: 'bench',
  register () {
    return {
      bep: { prefix: '/p${index}', blueprint: async (app) => { app.get('/', async () => ({ plugin: ${index} })) } }${hooks}
    }
  }
}
`
}

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

export async function routes (app) { app.get('/', async () => ({ plugin: ${index} })) }

export const hooks = fp(async function hooks${index} (app) {
${hooks}
})
`
}

/** Writes N plugin folders for the kit, N hand-wired modules, and N route files for @fastify/autoload. */
export async function generate (
  root: string,
  count: number,
  style: HandlerStyle
): Promise<{ plugins: string, hand: string, autoload: string }> {
  const plugins = join(root, `plugins-${count}-${style}`)
  const hand = join(root, `hand-${count}-${style}`)
  const autoload = join(root, `autoload-${count}`)
  const autoloadSource = (index: number) => `export default async function (app) { app.get('/', async () => ({ plugin: ${index} })) }\n`
  for (const folder of [plugins, hand, autoload]) await rm(folder, { recursive: true, force: true })
  await mkdir(hand, { recursive: true })
  for (let index = 0; index < count; index++) {
    await writeFile(join(hand, `p${index}.mjs`), handSource(index, style))
    await mkdir(join(plugins, `p${index}`), { recursive: true })
    await writeFile(join(plugins, `p${index}`, 'index.mjs'), pluginSource(index, style))
    await mkdir(join(autoload, `p${index}`), { recursive: true })
    await writeFile(join(autoload, `p${index}`, 'index.mjs'), autoloadSource(index))
  }
  return { plugins, hand, autoload }
}
