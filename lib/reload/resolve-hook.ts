// A module resolve hook (node:module register), run by Node off the main thread. It appends
// a plugin folder's reload generation to the URL of every module under that folder, so that
// after an edit the whole plugin is imported afresh while every other module stays cached.
// The main thread posts `{ id, generations }` and waits for the `{ ack: id }`.
import type { MessagePort } from 'node:worker_threads'

interface ResolveResult { url: string, format?: string | null, shortCircuit?: boolean }
type NextResolve = (specifier: string, context: unknown) => Promise<ResolveResult>

/** Folder URL (ending in /) → generation; longest folders first, so a nested plugin folder wins. */
let generations: Array<[string, number]> = []

export function initialize ({ port }: { port: MessagePort }): void {
  port.on('message', (message: { id: number, generations: Record<string, number> }) => {
    generations = Object.entries(message.generations).sort((a, b) => b[0].length - a[0].length)
    port.postMessage({ ack: message.id })
  })
  port.unref()
}

export async function resolve (specifier: string, context: unknown, nextResolve: NextResolve): Promise<ResolveResult> {
  const result = await nextResolve(specifier, context)
  if (generations.length === 0 || !result.url.startsWith('file:')) return result
  const [path = result.url, query] = result.url.split('?', 2)
  const match = generations.find(([folder]) => path.startsWith(folder))
  // A plugin's own dependencies are not what was edited: re-evaluating them would only duplicate their state.
  if (match === undefined || path.includes('/node_modules/', match[0].length - 1)) return result
  const own = `pluginkit-reload=${match[1]}`
  const rest = query?.split('&').filter((part) => !part.startsWith('pluginkit-reload=')) ?? []
  return { ...result, url: `${path}?${[own, ...rest].join('&')}` }
}
