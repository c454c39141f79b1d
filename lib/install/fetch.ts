import { writeFile } from 'node:fs/promises'
import { minimatch } from 'minimatch'
import npa from 'npm-package-arg'
import pacote from 'pacote'
import { installError, registryError } from './install-errors.js'
import type { NpmOptions } from './npm-config.js'

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
  try {
    manifest = await pacote.manifest(spec, { ...npm, fullMetadata: false, preferOnline: true })
  } catch (error) {
    throw registryError(error, { package: parsed.name }, `"${spec}"`)
  }
  if (typeof manifest._integrity !== 'string' || manifest._integrity === '') {
    throw installError(422, { package: parsed.name }, `the registry publishes no integrity for ${manifest.version}`)
  }
  return { package: manifest.name, version: manifest.version, integrity: manifest._integrity, resolved: manifest._resolved }
}

/**
 * Downloads a pinned version to `file`: pacote checks the integrity as the bytes arrive,
 * and the download stops as soon as it passes `maxBytes`.
 */
export async function downloadTarball (pinned: Pick<Resolved, 'package' | 'version' | 'integrity'>, file: string,
  npm: NpmOptions, maxBytes: number): Promise<void> {
  const subject = { package: pinned.package }
  const chunks: Buffer[] = []
  let bytes = 0
  try {
    await pacote.tarball.stream(`${pinned.package}@${pinned.version}`, async (stream) => {
      // Read to the end (or to the limit) here, where an integrity error surfaces as a rejection.
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        bytes += chunk.length
        if (bytes > maxBytes) throw installError(413, subject, `tarball is larger than install.maxTarballBytes (${maxBytes})`)
        chunks.push(chunk)
      }
    }, { ...npm, integrity: pinned.integrity })
  } catch (error) {
    if ((error as { code?: string }).code === 'PLUGINKIT_ERR_INSTALL') throw error
    throw registryError(error, subject, `${pinned.package}@${pinned.version}`)
  }
  await writeFile(file, Buffer.concat(chunks))
}
