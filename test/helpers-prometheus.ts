// A real Prometheus server for the metrics tests: Debian's `prometheus` package, started on
// 127.0.0.1 with a 1 s scrape interval over one target, queried through its HTTP API.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { freePort } from './helpers-redis.ts'
import { findPrometheus, requireBinary } from './helpers-services.ts'

export interface Target {
  /** host:port on 127.0.0.1. */
  address: string
  path: string
  /** Sent as `Authorization: Bearer <token>`. */
  bearer?: string
}

/** One sample of an instant query: its labels and value. */
export interface Sample {
  metric: Record<string, string>
  value: number
}

export interface Prometheus {
  readonly url: string
  /** An instant query (`/api/v1/query`); rejects with Prometheus's error for a query it refuses. */
  query (promql: string): Promise<Sample[]>
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts Prometheus scraping `target` every second (storage in a temporary folder), waits
 * until it is ready, and stops it (by pid) when the test ends. Without the binary the test
 * is skipped with a notice (or fails with PLUGINKIT_REQUIRE_SERVICES=1): `undefined`.
 */
export async function startPrometheus (t: TestContext, target: Target): Promise<Prometheus | undefined> {
  const binary = requireBinary(t, 'prometheus', findPrometheus())
  if (binary === undefined) return undefined
  const dir = await mkdtemp(join(tmpdir(), 'pluginkit-prometheus-'))
  const port = await freePort()
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: pluginkit',
    `    metrics_path: ${JSON.stringify(target.path)}`,
    ...(target.bearer === undefined ? [] : ['    authorization:', `      credentials: ${JSON.stringify(target.bearer)}`]),
    '    static_configs:',
    `      - targets: [${JSON.stringify(target.address)}]`
  ].join('\n')
  await writeFile(join(dir, 'prometheus.yml'), config + '\n')
  const child = spawn(binary, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn'
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  running.add(child)
  let output = ''
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      process.kill(child.pid as number, 'SIGTERM')
      await exited
    }
    running.delete(child)
    await rm(dir, { recursive: true, force: true })
  })

  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`)
    if (Date.now() > deadline) throw new Error(`prometheus did not get ready on ${url}:\n${output}`)
    const ready = await fetch(`${url}/-/ready`).then((response) => response.ok, () => false)
    if (ready) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }

  return {
    url,
    async query (promql) {
      const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`)
      const body = await response.json() as {
        status: string, error?: string, data?: { result: Array<{ metric: Record<string, string>, value: [number, string] }> }
      }
      if (body.status !== 'success') throw new Error(`${promql}: ${body.error ?? response.status}`)
      return (body.data?.result ?? []).map(({ metric, value }) => ({ metric, value: Number(value[1]) }))
    }
  }
}
