import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pacote from 'pacote'
import { registryFixtures } from './helpers-registry.ts'

const fixtures = registryFixtures()

test('the registry harness: pk-good@latest is 1.1.0, and pk-tampered fails its published integrity', async (t) => {
  const f = await fixtures(t)
  if (f === undefined) return
  const registry = f.registry.url
  const latest = await pacote.manifest('pk-good@latest', { registry })
  assert.equal(latest.version, '1.1.0')
  assert.equal(latest._integrity, f.published['pk-good@1.1.0']?.integrity)
  const dir = await mkdtemp(join(tmpdir(), 'pluginkit-harness-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const integrity = f.published['pk-tampered@1.0.0']?.integrity
  await assert.rejects(pacote.extract('pk-tampered@1.0.0', join(dir, 'tampered'), { registry, integrity }), { code: 'EINTEGRITY' })
  await pacote.extract('pk-good@1.0.0', join(dir, 'good'), { registry, integrity: f.published['pk-good@1.0.0']?.integrity })
})
