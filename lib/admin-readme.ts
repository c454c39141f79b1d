import { constants } from 'node:fs'
import { open, realpath } from 'node:fs/promises'
import { resolve, sep } from 'node:path'
import { describe } from './errors.js'

/** The most of a readme the page shows: the page lists every plugin, each with its readme. */
export const README_MAX_BYTES = 32 * 1024

export type Readme = { text: string, truncated: boolean } | { problem: string }

/**
 * A plugin's `readmeFile` (relative to its folder), read for display: it must resolve, with
 * symlinks followed, inside the plugin's folder (the manifest is hostile: `../../etc/passwd`)
 * and be a regular file (a FIFO would hang the page); at most README_MAX_BYTES are read.
 */
async function readReadme (dir: string, file: string): Promise<Readme> {
  try {
    const root = await realpath(dir)
    const target = await realpath(resolve(root, file))
    if (!target.startsWith(root + sep)) return { problem: 'not inside the plugin folder' }
    // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer.
    const handle = await open(target, constants.O_RDONLY | constants.O_NONBLOCK)
    try {
      if (!(await handle.stat()).isFile()) return { problem: 'not a regular file' }
      const buffer = Buffer.alloc(README_MAX_BYTES + 1)
      let length = 0
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
        if (bytesRead === 0 || (length += bytesRead) === buffer.length) break
      }
      const truncated = length > README_MAX_BYTES
      return { text: buffer.subarray(0, Math.min(length, README_MAX_BYTES)).toString('utf8'), truncated }
    } finally {
      await handle.close()
    }
  } catch (error) {
    return { problem: `cannot be read: ${describe(error)}` }
  }
}

/**
 * Reads each plugin's readme once per app (plugin folders do not change under a running app;
 * installing or reloading swaps the whole app, with a fresh reader).
 */
export function readmeReader (): (dir: string, file: string) => Promise<Readme> {
  const cache = new Map<string, Promise<Readme>>()
  return (dir, file) => {
    const key = `${dir}\0${file}`
    let readme = cache.get(key)
    if (readme === undefined) cache.set(key, readme = readReadme(dir, file))
    return readme
  }
}
