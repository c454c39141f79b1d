import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export type HandlerStyle = 'async' | 'sync' | 'none'

/**
 * Plugin i: a blueprint at /p<i> with GET /, and (unless style is 'none') a before_request
 * that short-circuits when the request has header x-stop-<i>, plus a no-op after_request.
 */
export function pluginSource (index: number, style: HandlerStyle): string {
  const hooks = style === 'none'
    ? ''
    : `,
      hep: {
        ${style === 'async' ? 'async ' : ''}before_request (request) { if (request.headers['x-stop-${index}'] !== undefined) return 'stopped' },
        ${style === 'async' ? 'async ' : ''}after_request () {}
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

/** Writes N plugin folders for the kit and N route files for @fastify/autoload. */
export async function generate (root: string, count: number, style: HandlerStyle): Promise<{ plugins: string, autoload: string }> {
  const plugins = join(root, `plugins-${count}-${style}`)
  const autoload = join(root, `autoload-${count}`)
  await rm(plugins, { recursive: true, force: true })
  await rm(autoload, { recursive: true, force: true })
  for (let index = 0; index < count; index++) {
    await mkdir(join(plugins, `p${index}`), { recursive: true })
    await writeFile(join(plugins, `p${index}`, 'index.mjs'), pluginSource(index, style))
    await mkdir(join(autoload, `p${index}`), { recursive: true })
    await writeFile(join(autoload, `p${index}`, 'index.mjs'), `export default async function (app) { app.get('/', async () => ({ plugin: ${index} })) }\n`)
  }
  return { plugins, autoload }
}
