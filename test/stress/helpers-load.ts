// A keep-alive HTTP load generator for the stress tests: `connections` workers, each on its
// own persistent connection, sending GET requests back to back for `durationMs` (or until
// aborted) and classifying every answer. Socket errors and timeouts are counted, never thrown.
import { Agent } from 'node:http'
import { httpRequest } from '../helpers-views.ts'

export interface LoadResult {
  requests: number
  /** Answers by status code. */
  statuses: Map<number, number>
  /** Answers by the caller's classification (see `classify`). */
  kinds: Map<string, number>
  /** Socket errors and timeouts, by message. */
  errors: Map<string, number>
  /** A few answers `classify` did not recognise. */
  unexpected: Array<{ status: number, body: string }>
}

export interface LoadOptions {
  port: number
  path: string
  connections: number
  /** How long to send; without it, until `signal` aborts. */
  durationMs?: number
  /** A name for an expected answer, or undefined for an unexpected one. */
  classify: (status: number, body: string) => string | undefined
  /** Resolves early when aborted. */
  signal?: AbortSignal
  /** Called with every answer and when its request was sent and answered (performance.now()). */
  observe?: (status: number, body: string, startedAt: number, endedAt: number) => void
  /** Per-request timeout (httpRequest's default otherwise). */
  timeoutMs?: number
}

function add<K> (map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

export async function runLoad (options: LoadOptions): Promise<LoadResult> {
  const { port, path, connections, durationMs = Infinity, classify, signal, observe, timeoutMs } = options
  const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections })
  const result: LoadResult = { requests: 0, statuses: new Map(), kinds: new Map(), errors: new Map(), unexpected: [] }
  const end = Date.now() + durationMs
  const worker = async () => {
    while (Date.now() < end && signal?.aborted !== true) {
      try {
        const startedAt = performance.now()
        const { status, body } = await httpRequest(port, path, { agent, ...(timeoutMs === undefined ? {} : { timeoutMs }) })
        observe?.(status, body, startedAt, performance.now())
        result.requests++
        add(result.statuses, status)
        const kind = classify(status, body)
        if (kind === undefined) {
          add(result.kinds, 'unexpected')
          if (result.unexpected.length < 10) result.unexpected.push({ status, body: body.slice(0, 300) })
        } else {
          add(result.kinds, kind)
        }
      } catch (error) {
        add(result.errors, error instanceof Error ? `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}` : String(error))
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: connections }, worker))
  } finally {
    agent.destroy()
  }
  return result
}

/** Seconds from STRESS_SECONDS (default `fallback`). */
export function stressSeconds (fallback = 20): number {
  const value = Number(process.env.STRESS_SECONDS ?? fallback)
  return Number.isFinite(value) && value > 0 ? value : fallback
}

export function describeLoad (result: LoadResult): string {
  return JSON.stringify({
    requests: result.requests,
    statuses: Object.fromEntries(result.statuses),
    kinds: Object.fromEntries(result.kinds),
    errors: Object.fromEntries(result.errors),
    unexpected: result.unexpected
  })
}
