import { createRequire, register } from 'node:module'
import { sep } from 'node:path'
import { pathToFileURL } from 'node:url'
import { MessageChannel, type MessagePort } from 'node:worker_threads'

/**
 * Reload generations of plugin folders, for the whole process (they outlive a swap). The
 * resolve hook is registered on first use only: an app that never reloads pays nothing.
 */
const generations = new Map<string, number>()
let port: MessagePort | undefined
let nextId = 0

function hookPort (): MessagePort {
  if (port !== undefined) return port
  const channel = new MessageChannel()
  register(new URL('./resolve-hook.js', import.meta.url), { data: { port: channel.port2 }, transferList: [channel.port2] })
  channel.port1.unref()
  port = channel.port1
  return port
}

const folderUrl = (dir: string) => pathToFileURL(dir.endsWith('/') ? dir : `${dir}/`).href

/**
 * Makes the next import of any module under each of `dirs` evaluate it afresh: ES modules
 * through the resolve hook's new URL, CommonJS ones (`.cjs`, TypeScript compiled to
 * CommonJS by tsx) by leaving Node's require cache. Resolves once the hook has the news.
 */
export async function renew (dirs: string[]): Promise<void> {
  for (const dir of dirs) generations.set(folderUrl(dir), (generations.get(folderUrl(dir)) ?? 0) + 1)
  const cache = createRequire(import.meta.url).cache
  for (const file of Object.keys(cache)) {
    const inside = dirs.find((dir) => file.startsWith(dir.endsWith('/') ? dir : `${dir}/`))
    if (inside !== undefined && !file.includes(`${sep}node_modules${sep}`, inside.length)) delete cache[file]
  }
  const target = hookPort()
  const id = ++nextId
  await new Promise<void>((resolve) => {
    const onMessage = (message: { ack?: number }) => {
      if (message.ack !== id) return
      target.off('message', onMessage)
      resolve()
    }
    target.on('message', onMessage)
    target.postMessage({ id, generations: Object.fromEntries(generations) })
  })
}
