import { writeFile } from 'node:fs/promises'
import { minimatch } from 'minimatch'
import npa from 'npm-package-arg'
import pacote from 'pacote'
import { installError } from './install-errors.js'
import { fetchDeadline, type NpmOptions } from './npm-config.js'

/** A registry package version, resolved from a spec. */
export interface Resolved {
  package: string
  version: string
  integrity: string
  resolved: string
}

/** Whether package `name` matches one of the `allow` patterns (`*` any characters, `@acme/*` a scope). */
export function isAllowed (name: string, allow: string[]): boolean {
  return allow.some((pattern) => minimatch(name, pattern, { nocomment: true, nonegate: true, noext: true }))
}

/**
 * Parses a registry spec (`name`, `name@1.2.3`, `name@^1.2.0`, `name@tag`). Other kinds
 * (git, file, URL, alias) are refused: what is installed must come from the registry by
 * name, so the allow-list and integrity pinning mean something.
 */
export function parseSpec (spec: string): npa.Result & { name: string } {
  let parsed: npa.Result
  try {
    parsed = npa(spec)
  } catch (error) {
    throw installError(400, { package: spec }, `is not a valid package spec: ${(error as Error).message}`, error)
  }
  if (parsed.name === null || parsed.name === undefined || !['version', 'range', 'tag'].includes(parsed.type)) {
    throw installError(400, { package: spec }, 'is not a registry spec: use name, name@version, name@range or name@tag')
  }
  return parsed as npa.Result & { name: string }
}

export function checkAllowed (name: string, allow: string[]): void {
  if (!isAllowed(name, allow)) {
    throw installError(403, { package: name }, `is not allowed: install.allow is ${JSON.stringify(allow)}`)
  }
}

/** The version a registry spec resolves to, with the integrity the registry publishes for it. */
export async function resolveSpec (spec: string, npm: NpmOptions): Promise<Resolved> {
  const parsed = parseSpec(spec)
  let manifest
  const deadline = fetchDeadline(npm)
  try {
    manifest = await pacote.manifest(spec, { ...npm, fullMetadata: false, preferOnline: true, signal: deadline.signal })
  } catch (error) {
    throw deadline.failure(error, { package: parsed.name }, `"${spec}"`)
  }
  if (typeof manifest._integrity !== 'string' || manifest._integrity === '') {
    throw installError(422, { package: parsed.name }, `the registry publishes no integrity for ${manifest.version}`)
  }
  return { package: manifest.name, version: manifest.version, integrity: manifest._integrity, resolved: manifest._resolved }
}

/**
 * Downloads a pinned version to `file`: pacote checks the integrity as the bytes arrive,
 * and the download stops as soon as it passes `maxBytes`.
 *
 * Read with listeners rather than `for await`: leaving an async iterator early removes its
 * error listener but keeps the response open, and minipass-fetch reads on regardless of
 * backpressure, so the rest of an oversized tarball was buffered anyway and the registry
 * closing that connection later threw "aborted" as an uncaught exception. Here the request
 * is aborted at the limit and the error listener stays on for good.
 */
export async function downloadTarball (pinned: Pick<Resolved, 'package' | 'version' | 'integrity'>, file: string,
  npm: NpmOptions, maxBytes: number): Promise<void> {
  const subject = { package: pinned.package }
  const abort = new AbortController()
  const deadline = fetchDeadline(npm)
  let tooLarge: Error | undefined
  let data: Buffer
  try {
    data = await pacote.tarball.stream(`${pinned.package}@${pinned.version}`, (stream) => new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = []
      let bytes = 0
      stream.on('error', (error: Error) => reject(tooLarge ?? error))
      stream.on('data', (chunk: Buffer) => {
        if (tooLarge !== undefined) return
        bytes += chunk.length
        if (bytes <= maxBytes) {
          chunks.push(chunk)
          return
        }
        tooLarge = installError(413, subject, `tarball is larger than install.maxTarballBytes (${maxBytes})`)
        reject(tooLarge)
        abort.abort()
      })
      stream.on('end', () => resolve(Buffer.concat(chunks)))
    }), { ...npm, integrity: pinned.integrity, signal: AbortSignal.any([abort.signal, deadline.signal]) })
  } catch (error) {
    if ((error as { code?: string }).code === 'PLUGINKIT_ERR_INSTALL') throw error
    throw deadline.failure(error, subject, `${pinned.package}@${pinned.version}`)
  }
  await writeFile(file, data)
}
