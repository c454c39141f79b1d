import { accessSync, constants } from 'node:fs'
import { basename, delimiter, isAbsolute, join } from 'node:path'
import type { TestContext } from 'node:test'

/**
 * External programs some tests need (Chromium, redis-server, Prometheus). When one is missing the
 * test is skipped with a visible notice, unless PLUGINKIT_REQUIRE_SERVICES=1 (as in
 * .ci/run), in which case it fails.
 */
export const servicesRequired = process.env.PLUGINKIT_REQUIRE_SERVICES === '1'

/** Debian's chromium package; CHROMIUM_PATH overrides. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const installHints: Record<string, string> = {
  chromium: 'apt-get install -y chromium',
  'redis-server': 'apt-get install -y redis-server',
  prometheus: 'apt-get install -y prometheus'
}

function isExecutable (path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The path of an executable: `name` itself when absolute, else the first match on PATH. */
export function findBinary (name: string): string | undefined {
  if (isAbsolute(name)) return isExecutable(name) ? name : undefined
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (folder !== '' && isExecutable(join(folder, name))) return join(folder, name)
  }
  return undefined
}

/** redis-server: REDIS_SERVER_PATH, else PATH, else Debian's /usr/bin. */
export function findRedisServer (): string | undefined {
  return [process.env.REDIS_SERVER_PATH, 'redis-server', '/usr/bin/redis-server', '/usr/sbin/redis-server']
    .filter((name): name is string => name !== undefined && name !== '')
    .map(findBinary)
    .find((path) => path !== undefined)
}

/**
 * The binary's path when it is installed. Otherwise the test is skipped with a visible
 * notice and `undefined` is returned (the caller returns), or, with
 * PLUGINKIT_REQUIRE_SERVICES=1, the test fails.
 *
 *     const chromium = requireBinary(t, CHROMIUM)
 *     if (chromium === undefined) return
 */
export function requireBinary (t: TestContext, name: string, found: string | undefined = findBinary(name)): string | undefined {
  if (found !== undefined) return found
  const program = basename(name)
  const hint = installHints[program] ?? `install ${program}`
  if (servicesRequired) {
    throw new Error(`${program} not installed (${name}) and PLUGINKIT_REQUIRE_SERVICES=1 requires it: ${hint}`)
  }
  const notice = `${program} not installed: ${name} not found; ${hint}, or set PLUGINKIT_REQUIRE_SERVICES=1 to make this a failure`
  t.diagnostic(notice)
  console.warn(`SKIPPED "${t.name}": ${notice}`)
  t.skip(notice)
  return undefined
}

/** Debian's prometheus package: PROMETHEUS_PATH, else PATH, else /usr/bin. */
export function findPrometheus (): string | undefined {
  return [process.env.PROMETHEUS_PATH, 'prometheus', '/usr/bin/prometheus']
    .filter((name): name is string => name !== undefined && name !== '')
    .map(findBinary)
    .find((path) => path !== undefined)
}

/** requireBinary for redis-server, wherever findRedisServer finds it. */
export function requireRedisServer (t: TestContext): string | undefined {
  return requireBinary(t, 'redis-server', findRedisServer())
}
