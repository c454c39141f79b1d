import { open } from 'node:fs/promises'
import { posix } from 'node:path'
import pacote from 'pacote'
import * as tar from 'tar'
import { describe, type ErrorSubject } from '../errors.js'
import { installError, registryError } from './install-errors.js'
import type { NpmOptions } from './npm-config.js'

export interface TarballPackage {
  name: string
  version: string
}

async function isGzip (file: string): Promise<boolean> {
  const handle = await open(file, 'r')
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0)
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b
  } finally {
    await handle.close()
  }
}

/** An entry path (or link target) that leaves the package folder once the first component is stripped. */
function escapes (path: string): boolean {
  const normalized = posix.normalize(path.replaceAll('\\', '/'))
  return posix.isAbsolute(normalized) || /^[a-zA-Z]:/.test(normalized) || normalized === '..' || normalized.startsWith('../')
}

/** A package.json larger than this is refused unread (npm's registry takes far smaller ones). */
const MAX_MANIFEST_BYTES = 1024 * 1024
/**
 * What a tarball may unpack to, as a multiple of its size limit. Published packages unpack to
 * 3–6 times their tarball; a gzip bomb (1000 times and more) would fill install.dir's disk.
 */
const MAX_UNPACK_RATIO = 20

/**
 * Checks an `npm pack` tarball before anything is extracted: gzip, every entry (and link
 * target) inside its folder, a package.json with a name and version, which it returns, and
 * sizes (the entries' declared sizes, which bound what tar writes): the whole package at most
 * MAX_UNPACK_RATIO × `maxTarballBytes`, package.json at most MAX_MANIFEST_BYTES.
 * node-tar would silently drop an escaping entry; a package built that way is refused instead.
 */
export async function inspectTarball (file: string, subject: ErrorSubject, maxTarballBytes: number): Promise<TarballPackage> {
  if (!(await isGzip(file))) throw installError(400, subject, 'is not a gzip tarball (npm pack output)')
  const escaping: string[] = []
  const chunks: Buffer[] = []
  let manifestPath: string | undefined
  let manifestTooLarge = false
  let unpackedBytes = 0
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry (entry) {
        const stripped = entry.path.split('/').slice(1).join('/')
        if (escapes(entry.path) || escapes(stripped) ||
          (entry.linkpath !== undefined && entry.linkpath !== '' && escapes(posix.join(posix.dirname(stripped), entry.linkpath)))) {
          escaping.push(entry.path)
        }
        // An entry's header is 512 bytes on disk too: a million empty files count.
        unpackedBytes += (entry.size ?? 0) + 512
        if (stripped === 'package.json' && manifestPath === undefined) {
          manifestPath = entry.path
          manifestTooLarge = (entry.size ?? 0) > MAX_MANIFEST_BYTES
          if (!manifestTooLarge) entry.on('data', (chunk: Buffer) => chunks.push(chunk))
        }
      }
    })
  } catch (error) {
    throw installError(400, subject, `is not a valid tarball: ${describe(error)}`, error)
  }
  if (escaping.length > 0) throw installError(422, subject, `has entries outside its folder: ${escaping.slice(0, 5).join(', ')}`)
  if (manifestPath === undefined) throw installError(422, subject, 'has no package.json')
  const maxUnpacked = MAX_UNPACK_RATIO * maxTarballBytes
  if (unpackedBytes > maxUnpacked) {
    throw installError(413, subject,
      `unpacks to ${unpackedBytes} bytes, more than ${MAX_UNPACK_RATIO} × install.maxTarballBytes (${maxUnpacked})`)
  }
  if (manifestTooLarge) throw installError(413, subject, `has a package.json over ${MAX_MANIFEST_BYTES} bytes`)
  let manifest: { name?: unknown, version?: unknown }
  try {
    manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof manifest
  } catch (error) {
    throw installError(422, subject, `package.json is not JSON: ${describe(error)}`, error)
  }
  if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') {
    throw installError(422, subject, 'package.json has no name and version')
  }
  return { name: manifest.name, version: manifest.version }
}

/** Extracts a checked tarball into `folder` with npm's own extractor, verifying `integrity` again. */
export async function extractTarball (file: string, folder: string, integrity: string, npm: NpmOptions, subject: ErrorSubject) {
  try {
    await pacote.extract(`file:${file}`, folder, { ...npm, integrity })
  } catch (error) {
    throw registryError(error, subject, 'cannot extract the tarball')
  }
}
