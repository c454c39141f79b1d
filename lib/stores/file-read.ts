import { open, type FileHandle } from 'node:fs/promises'
import { kitError, describe, wrapError } from '../errors.js'

/** A state file larger than this is refused: reading it whole could exhaust the memory. */
export const MAX_STATE_FILE_BYTES = 1024 * 1024

export function fileError (path: string, detail: string, cause?: unknown) {
  return kitError('PLUGINKIT_ERR_STATE_STORE', { store: `state file ${path}` }, undefined, detail, cause)
}

/** The file's text, or undefined when it does not exist; refuses a file over the size limit. */
export async function readCapped (path: string): Promise<string | undefined> {
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw fileError(path, `cannot be read: ${describe(error)}`, error)
  }
  try {
    // At most one byte past the limit is read, whatever the file's size says (a device, a file growing).
    const chunks: Buffer[] = []
    let bytes = 0
    for await (const chunk of handle.createReadStream({ end: MAX_STATE_FILE_BYTES, autoClose: false }) as AsyncIterable<Buffer>) {
      chunks.push(chunk)
      bytes += chunk.length
    }
    if (bytes > MAX_STATE_FILE_BYTES) throw tooLarge(path)
    return Buffer.concat(chunks, bytes).toString('utf8')
  } catch (error) {
    throw wrapError(error, 'PLUGINKIT_ERR_STATE_STORE', { store: `state file ${path}` }, undefined, 'cannot be read: ')
  } finally {
    await handle.close()
  }
}

function tooLarge (path: string) {
  return fileError(path,
    `is larger than ${MAX_STATE_FILE_BYTES} bytes (1 MiB), the limit for a state file; it is not read. Fix or remove it`)
}
