/**
 * Run-time install against a real registry (verdaccio on 127.0.0.1, the test fixtures): the time
 * from `install()` to the first response of the new plugin's route, and of upgrade, rollback and
 * uninstall, on a listening app under @fastify/restartable. Medians of ROUNDS rounds.
 *   npm run build && tsx bench/install.ts [--rounds 10]
 */
import { parseArgs } from 'node:util'
import { hostTree, installHost, launchRegistry, publishFixtures } from '../test/helpers-registry.ts'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' } } })
const ROUNDS = Number(values.rounds)
const cleanups: Array<() => unknown> = []
const defer = (cleanup: () => unknown) => { cleanups.push(cleanup) }
const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] as number

const registry = await launchRegistry()
try {
  await publishFixtures(registry)
  const host = await installHost(await hostTree({}, defer), registry.url, { listen: true, defer })
  const kit = host.app.pluginKit
  const answer = async () => (await fetch(`${host.url}/good/version`)).status
  const times: Record<string, number[]> = { install: [], upgrade: [], rollback: [], uninstall: [] }
  const timed = async (name: string, operation: () => Promise<unknown>, serving: (status: number) => boolean) => {
    const started = performance.now()
    await operation()
    // The operation resolves once the new app serves; the first request proves it.
    if (!serving(await answer())) throw new Error(`${name}: the new app does not serve what it should`)
    times[name]?.push(performance.now() - started)
  }
  for (let round = 0; round < ROUNDS; round++) {
    await timed('install', () => kit.install('pk-good@1.0.0'), (status) => status === 200)
    await timed('upgrade', () => kit.upgrade('pk-good', 'pk-good@1.1.0'), (status) => status === 200)
    await timed('rollback', () => kit.rollback('pk-good'), (status) => status === 200)
    await timed('uninstall', () => kit.uninstall('pk-good'), (status) => status === 404)
  }
  console.log(`| operation (small package, local verdaccio, median of ${ROUNDS}) | ms to serving |`)
  console.log('|---|---|')
  for (const [name, samples] of Object.entries(times)) console.log(`| ${name} | ${median(samples).toFixed(0)} |`)
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
  await registry.stop()
}
