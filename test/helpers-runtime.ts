import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import assert from 'node:assert/strict'
import type { LightMyRequestResponse } from 'fastify'

const require = createRequire(import.meta.url)

/** A file URL for `fastify-plugin`, importable from plugin modules that live in temporary folders. */
export const fastifyPluginUrl: string = pathToFileURL(require.resolve('fastify-plugin')).href

/**
 * What plugin modules (running in this process) report back to the test: `globalThis.__pk`.
 * `calls` is an ordered log; `counts` counts named events.
 */
export interface Probe {
  calls: string[]
  counts: Record<string, number>
  waiters: Array<(entry: string) => void>
}

/** Resets and returns the shared probe. */
export function probe (): Probe {
  const fresh: Probe = { calls: [], counts: {}, waiters: [] }
  ;(globalThis as unknown as { __pk: Probe }).__pk = fresh
  return fresh
}

/** Resolves once the probe's log holds `entry` (logged by a plugin with `__log`). */
export function logged (probe: Probe, entry: string): Promise<void> {
  if (probe.calls.includes(entry)) return Promise.resolve()
  return new Promise((resolve) => {
    probe.waiters.push((seen) => { if (seen === entry) resolve() })
  })
}

/**
 * Polls `check` every `everyMs` until it holds or `withinMs` have passed (a rejection counts
 * as not yet); returns whether it held. Real time, for work outside the event loop: files,
 * sockets, child processes, Redis.
 */
export async function eventually (check: () => boolean | Promise<boolean>, withinMs = 5000, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + withinMs
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return true
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Waits (a few event-loop turns at most) until `condition()` holds; fails if it never does. */
export async function until (condition: () => boolean, turns = 1000): Promise<void> {
  for (let turn = 0; turn < turns; turn++) {
    if (condition()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.fail('condition never became true')
}

/** Asserts that `response` for `url` looks exactly like the app's answer `unknown` for `unknownUrl`. */
export function assertLikeUnknown (
  response: LightMyRequestResponse, unknown: LightMyRequestResponse, url: string, unknownUrl: string
): void {
  assert.equal(response.statusCode, unknown.statusCode, `status of ${url}`)
  assert.equal(response.headers['content-type'], unknown.headers['content-type'], `content-type of ${url}`)
  assert.equal(response.body, unknown.body.replaceAll(unknownUrl, url), `body of ${url}`)
}
