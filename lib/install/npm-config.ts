import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import ini from 'ini'
import type { ErrorSubject, PluginKitError } from '../errors.js'
import { installError, registryError } from './install-errors.js'

/** The options pacote and arborist take from npm's configuration: registry, scoped registries, auth, proxy. */
export type NpmOptions = Record<string, unknown> & { registry: string }

const DEFAULT_REGISTRY = 'https://registry.npmjs.org/'

function readIni (path: string): Record<string, unknown> {
  try {
    return ini.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
  } catch {
    return {}
  }
}

/**
 * npm's configuration as pacote and arborist expect it (flat keys such as `registry`,
 * `@acme:registry`, `//host/:_authToken`): the user's ~/.npmrc, then the project's
 * `<base>/.npmrc`, then `npm_config_*` variables; `registry` (the `install.registry` option)
 * wins. Written here because @npmcli/config needs the npm CLI's own option definitions;
 * this reads the same files in the same order, with `${VAR}` expansion as npm does.
 */
export function npmOptions (base: string, registry: string | undefined): NpmOptions {
  const userconfig = process.env.npm_config_userconfig ?? process.env.NPM_CONFIG_USERCONFIG ?? join(homedir(), '.npmrc')
  const merged: Record<string, unknown> = { ...readIni(userconfig), ...readIni(join(base, '.npmrc')) }
  for (const [key, value] of Object.entries(process.env)) {
    const match = /^npm_config_(.+)$/i.exec(key)
    if (match?.[1] !== undefined && value !== undefined && !key.toLowerCase().startsWith('npm_config_user')) {
      merged[match[1].toLowerCase().replaceAll('_', '-')] = value
    }
  }
  const expanded = Object.fromEntries(Object.entries(merged).map(([key, value]) => [
    key, typeof value === 'string' ? value.replace(/\$\{([^}]+)\}/g, (_, name: string) => process.env[name] ?? '') : value
  ]))
  return { ...expanded, registry: registry ?? (typeof expanded.registry === 'string' ? expanded.registry : DEFAULT_REGISTRY) }
}

/** npm's default `fetch-timeout`: 5 minutes. */
const DEFAULT_FETCH_TIMEOUT_MS = 5 * 60 * 1000

export interface FetchDeadline {
  /** For pacote's and arborist's `signal` option. */
  signal: AbortSignal
  /** What a fetch failed with, as the kit's error: 502 when the deadline cut it. */
  failure: (error: unknown, subject: ErrorSubject, what: string) => PluginKitError
}

/**
 * npm's `fetch-timeout`, "the maximum amount of time to wait for HTTP requests to complete"
 * (default 5 minutes), as a deadline for one step's fetches. npm's fetcher applies it only to
 * idle sockets, so a registry dripping a byte now and then would hold an operation (and every
 * one queued after it) for ever.
 */
export function fetchDeadline (npm: NpmOptions): FetchDeadline {
  const given = Number(npm['fetch-timeout'])
  const ms = Number.isFinite(given) && given > 0 ? given : DEFAULT_FETCH_TIMEOUT_MS
  const signal = AbortSignal.timeout(ms)
  return {
    signal,
    failure: (error, subject, what) => signal.aborted
      ? installError(502, subject, `${what}: the registry did not answer within npm's fetch-timeout (${ms} ms)`, error)
      : registryError(error, subject, what)
  }
}
