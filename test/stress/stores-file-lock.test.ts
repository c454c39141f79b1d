// Issue #11 item 6: a lock left by a dead process is taken over by several processes at
// once without losing a save. A stale lock is planted (in the current format: a lock
// directory not touched for a minute; and in the format of earlier versions: a lock file
// holding the pid of a process that is gone), then 3 child processes save 150 distinct
// keys each through their own FileStore, all starting at the same moment. Every save that
// resolved must be in the file afterwards; none may reject. And at the level of the lock:
// processes taking over one stale lock at the same instant hold it one after another,
// never two at once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { makeTree } from '../helpers.ts'

const PROCESSES = 3
const SAVES = 150
const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

// A child: waits for the common start time, then asks for all its saves at once (the store
// runs them one at a time) and prints the key of each save that resolved, or its error.
const child = `
import { FileStore } from 'fastify-pluginkit'
const [file, prefix, count, startAt] = process.argv.slice(1)
const store = new FileStore(file)
await new Promise((resolve) => setTimeout(resolve, Number(startAt) - Date.now()))
await Promise.all(Array.from({ length: Number(count) }, (_, index) => {
  const key = prefix + index
  return store.save(key, index % 2 === 0 ? 'disabled' : 'enabled').then(
    () => process.stdout.write('SAVED ' + key + '\\n'),
    (error) => process.stdout.write('FAILED ' + key + ' ' + error.message.replace(/\\n/g, ' ') + '\\n'))
}))
`

/** A pid that no process has: one of a process that just exited. */
async function deadPid (): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', 'console.log(process.pid)'])
  return Number(stdout.trim())
}

const plants: Array<[string, (lock: string) => Promise<void>]> = [
  ['a lock directory untouched for a minute', async (lock) => {
    await mkdir(lock)
    const old = new Date(Date.now() - 60_000)
    await utimes(lock, old, old)
  }],
  ['a lock file of an earlier version holding a dead pid', async (lock) => {
    await writeFile(lock, String(await deadPid()))
  }]
]

for (const [label, plant] of plants) {
  test(`FileStore: ${label} + ${PROCESSES} processes saving ${SAVES} keys each at once: no save lost`, { timeout: 120_000 }, async (t) => {
    const base = await makeTree({})
    const file = join(base, 'state.json')
    await writeFile(file, JSON.stringify({ existing: 'disabled' }))
    await plant(`${file}.lock`)

    const startAt = Date.now() + 1500
    const started = Date.now()
    const outputs = await Promise.all(Array.from({ length: PROCESSES }, async (_, index) => {
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', child, file, `p${index}-`, String(SAVES), String(startAt)], { cwd: repoRoot, timeout: 90_000 })
      return stdout
    }))
    const lines = outputs.join('').split('\n').filter((line) => line !== '')
    const saved = lines.filter((line) => line.startsWith('SAVED ')).map((line) => line.slice(6))
    const failed = lines.filter((line) => line.startsWith('FAILED '))

    const onDisk = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>
    const lost = saved.filter((key) => onDisk[key] === undefined)
    t.diagnostic(`${saved.length} saves resolved, ${failed.length} rejected, ${lost.length} lost, in ${Date.now() - startAt} ms (${startAt - started} ms waiting for the start)`)
    assert.deepEqual(failed, [], 'no save rejected')
    assert.equal(saved.length, PROCESSES * SAVES)
    assert.deepEqual(lost, [], `saves that resolved but are missing from the file: ${lost.length} of ${saved.length}`)
    assert.equal(onDisk.existing, 'disabled', 'the entry written before is kept')
    assert.equal(Object.keys(onDisk).length, PROCESSES * SAVES + 1)
    assert.deepEqual((await readdir(base)).sort(), ['state.json'], 'no lock or temporary file left behind')
  })
}

// A child holding the lock: waits for the common start, takes it, holds it HOLD_MS and
// prints when it held it.
const holder = `
import { withLock } from ${JSON.stringify(new URL('../../dist/stores/file-lock.js', import.meta.url).href)}
const [file, startAt, holdMs] = process.argv.slice(1)
await new Promise((resolve) => setTimeout(resolve, Number(startAt) - Date.now()))
const held = await withLock(file, async () => {
  const from = performance.timeOrigin + performance.now()
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)))
  return [from, performance.timeOrigin + performance.now()]
})
process.stdout.write(JSON.stringify(held))
`

test('the lock: 6 processes taking over one stale lock at the same instant hold it one at a time (10 rounds)', { timeout: 180_000 }, async (t) => {
  const HOLDERS = 6
  const HOLD_MS = 100
  const ROUNDS = 10
  const base = await makeTree({})
  let overlaps = 0
  for (let round = 0; round < ROUNDS; round++) {
    const file = join(base, `state-${round}.json`)
    await plants[0]?.[1](`${file}.lock`)
    const startAt = Date.now() + 600
    const spans = await Promise.all(Array.from({ length: HOLDERS }, async () => {
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', holder, file, String(startAt), String(HOLD_MS)], { timeout: 60_000 })
      return JSON.parse(stdout) as [number, number]
    }))
    spans.sort((a, b) => a[0] - b[0])
    for (let index = 1; index < spans.length; index++) {
      if ((spans[index] as [number, number])[0] < (spans[index - 1] as [number, number])[1]) overlaps++
    }
  }
  t.diagnostic(`${overlaps} overlapping holds in ${ROUNDS} rounds of ${HOLDERS} processes`)
  assert.equal(overlaps, 0, 'two processes held the lock at once')
})
