// Issue #13: a child process cycles an uploaded plugin package through install -> upgrade ->
// rollback -> uninstall under @fastify/restartable (listening, strict, a FileStore) and is
// killed with SIGKILL at random moments, STRESS_KILLS times (default 25). After each kill:
// - the lockfile parses (or is absent) and pins either the set before the step the child
//   announced (DOING) or the set after it; with no step under way, what the last DONE found;
// - every folder it points at (the current and the `previous` version) is complete: its digest
//   file is there and every file is as recorded (sha256 recomputed here), and the uploaded
//   tarball it pins is kept with its integrity;
// - the next child boots on what was left (strict: an integrity failure fails its boot) and
//   serves the version the lockfile pins (404 when none).
// A lock directory left by a killed process is aged past the 10 s after which a live process
// takes it over, instead of waiting 10 s per kill; the takeover itself is the kit's.
// Finally a child boots on the leftovers and completes two whole cycles, then exits cleanly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ssri from 'ssri'
import { makeTree } from '../helpers.ts'
import { HELLO, HELLO_PACKAGE, helloFiles, pack } from '../fixtures/reliability/install-packages.mjs'
import { killAfter } from './helpers-kill.ts'

const installerScript = fileURLToPath(new URL('../fixtures/reliability/installer.mjs', import.meta.url))
const KILLS = Math.max(1, Number(process.env.STRESS_KILLS ?? 25) || 25)
const VERSIONS = ['1.0.0', '1.1.0']
/** The lock directories the kit may leave behind (FileStore saves, install operations). */
const LOCKS = ['state.json.lock', '.pluginkit/plugins.lock.json.lock']
const DIGEST_FILE = '.pluginkit-files.json'

/** pk-hello's lockfile entry as the child prints it: { version, previous }, or null when not installed. */
type Locked = { version: string, previous: string | null } | null

interface Step { op: string, from: Locked, to: Locked }

interface Run {
  /** READY's answer: the version served after boot (null: 404); undefined when killed before READY. */
  served: string | null | undefined
  /** The last DONE's lockfile entry; undefined when no step completed. */
  lastDone: Locked | undefined
  /** A DOING that no DONE followed: the step the kill interrupted. */
  doing: Step | undefined
  steps: number
  stdout: string
  stderr: string
}

function parseRun (stdout: string, stderr: string): Run {
  const run: Run = { served: undefined, lastDone: undefined, doing: undefined, steps: 0, stdout, stderr }
  // A line cut short by the kill has no newline: ignore it.
  for (const text of stdout.split('\n').slice(0, -1)) {
    const space = text.indexOf(' ')
    const kind = text.slice(0, space)
    const value = JSON.parse(text.slice(space + 1)) as Record<string, unknown>
    if (kind === 'READY') {
      run.served = value.served as string | null
    } else if (kind === 'DOING') {
      run.doing = value as unknown as Step
    } else if (kind === 'DONE') {
      const step = run.doing
      assert.ok(step !== undefined && step.op === value.op, `DONE follows its DOING: ${text}`)
      assert.equal((value.result as { activated?: boolean }).activated, true, `${step.op} resolved activated: ${text}`)
      assert.deepEqual(value.lock, step.to, `after ${step.op} the lockfile pins what was announced: ${text}`)
      assert.equal(value.served, step.to?.version ?? null, `after ${step.op} resolved the app serves its result: ${text}`)
      run.lastDone = step.to
      run.doing = undefined
      run.steps++
    } else {
      assert.fail(`the installer failed or printed something unexpected: ${text}\n${stderr}`)
    }
  }
  return run
}

/** Spawns the installer and SIGKILLs it `delayMs` after READY (after spawning when `early`). */
async function killedRun (input: string, delayMs: number, early: boolean): Promise<Run> {
  const { stdout, stderr } = await killAfter(installerScript, input, delayMs, early, 'installer')
  return parseRun(stdout, stderr)
}

/** The lockfile's pk-hello entry, checking the file's shape; null when there is no file or no entry. */
async function lockedOnDisk (dir: string): Promise<{ locked: Locked, entries: Array<Record<string, string>> }> {
  let text: string
  try {
    text = await readFile(join(dir, 'plugins.lock.json'), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { locked: null, entries: [] }
    throw error
  }
  let lockfile: { lockfileVersion: number, plugins: Record<string, Record<string, string> & { previous?: Record<string, string> }> }
  try {
    lockfile = JSON.parse(text) as typeof lockfile
  } catch (error) {
    assert.fail(`the lockfile is not valid JSON after a kill: ${JSON.stringify(text)} (${String(error)})`)
  }
  assert.equal(lockfile.lockfileVersion, 1)
  assert.deepEqual(Object.keys(lockfile.plugins).filter((name) => name !== HELLO), [], `only ${HELLO} is ever installed: ${text}`)
  const entry = lockfile.plugins[HELLO]
  if (entry === undefined) return { locked: null, entries: [] }
  const { previous, ...current } = entry
  for (const locked of [current, ...(previous === undefined ? [] : [previous])]) {
    assert.equal(locked.package, HELLO_PACKAGE)
    assert.equal(locked.source, 'upload')
    assert.ok(VERSIONS.includes(locked.version ?? ''), `a version that was uploaded: ${text}`)
  }
  return {
    locked: { version: current.version as string, previous: previous?.version ?? null },
    entries: [current, ...(previous === undefined ? [] : [previous])]
  }
}

async function filesUnder (folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true })
  return entries.filter((entry) => !entry.isDirectory())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort()
}

/** What is wrong with the installed folder of a lockfile entry (undefined: complete, every file as recorded). */
async function folderProblem (dir: string, entry: Record<string, string>): Promise<string | undefined> {
  const folder = join(dir, 'packages', `${entry.package}@${entry.version}`)
  let recorded: Record<string, string>
  try {
    recorded = (JSON.parse(await readFile(join(folder, DIGEST_FILE), 'utf8')) as { files: Record<string, string> }).files
  } catch (error) {
    return `${folder} has no readable ${DIGEST_FILE} (${String(error)})`
  }
  const present = (await filesUnder(folder)).filter((path) => path !== DIGEST_FILE)
  if (JSON.stringify(present) !== JSON.stringify(Object.keys(recorded).sort())) {
    return `${folder} holds ${JSON.stringify(present)}, the digest records ${JSON.stringify(Object.keys(recorded).sort())}`
  }
  for (const [path, digest] of Object.entries(recorded)) {
    const actual = `sha256-${createHash('sha256').update(await readFile(join(folder, path))).digest('base64')}`
    if (actual !== digest) return `${folder}/${path} is not as recorded`
  }
  const manifest = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as { name: string, version: string }
  if (manifest.name !== entry.package || manifest.version !== entry.version) return `${folder} holds ${manifest.name}@${manifest.version}`
  const tarball = join(dir, 'tarballs', `${entry.package}@${entry.version}.tgz`)
  const kept = await readFile(tarball).catch(() => undefined)
  if (kept === undefined || ssri.checkData(kept, entry.integrity as string) === false) return `${tarball} is missing or does not match ${entry.integrity}`
  return undefined
}

/** Sets a lock directory left by a killed process 60 s back in time; returns the locks found. */
async function ageLocks (base: string): Promise<string[]> {
  const found: string[] = []
  for (const lock of LOCKS) {
    const path = join(base, lock)
    if (await stat(path).then(() => true, () => false)) {
      const past = new Date(Date.now() - 60_000)
      await utimes(path, past, past)
      found.push(lock)
    }
  }
  return found
}

const describeLocked = (locked: Locked | undefined) => locked === undefined ? 'unknown' : JSON.stringify(locked)
const same = (a: Locked | undefined, b: Locked) => JSON.stringify(a) === JSON.stringify(b)

test(`install crash safety: SIGKILL at random moments of install/upgrade/rollback/uninstall (${KILLS} kills)`, { timeout: KILLS * 40_000 + 60_000 }, async (t) => {
  const base = await makeTree({})
  const dir = join(base, '.pluginkit')
  const tarballs: Record<string, string> = {}
  for (const version of VERSIONS) {
    tarballs[version] = join(base, `${HELLO_PACKAGE}-${version}.tgz`)
    await writeFile(tarballs[version], await pack(helloFiles(version)))
  }
  const input = JSON.stringify({ base, tarballs })

  let previous = null as Locked
  let steps = 0
  const killedIn: Record<string, number> = {}
  const locksAged: Record<string, number> = {}
  for (let kill = 0; kill < KILLS; kill++) {
    // Most kills land during the steps; every fifth at a random moment from spawn (often during boot).
    const early = kill % 5 === 4
    const delayMs = Math.floor(Math.random() * (early ? 1000 : 600))
    const run = await killedRun(input, delayMs, early)
    const where = `kill ${kill} (${delayMs} ms after ${early ? 'spawn' : 'READY'}, ${run.steps} steps done, ` +
      `${run.doing === undefined ? 'between steps' : `during ${run.doing.op} ${describeLocked(run.doing.from)} -> ${describeLocked(run.doing.to)}`})`

    if (run.served !== undefined) {
      assert.equal(run.served, previous?.version ?? null, `${where}: the child booted on what the previous one left and serves what the lockfile pins`)
    }
    // null is a lockfile without pk-hello: only undefined means no step completed.
    const settled = run.lastDone === undefined ? previous : run.lastDone
    if (run.doing !== undefined) assert.ok(same(run.doing.from, settled), `${where}: the step started from the lockfile as left`)
    const { locked, entries } = await lockedOnDisk(dir)
    const allowed = run.doing === undefined ? [settled] : [run.doing.from, run.doing.to]
    assert.ok(allowed.some((state) => same(state, locked)),
      `${where}: the lockfile pins ${describeLocked(locked)}, expected ${allowed.map(describeLocked).join(' or ')}`)
    for (const entry of entries) {
      const problem = await folderProblem(dir, entry)
      assert.equal(problem, undefined, `${where}: the lockfile (${describeLocked(locked)}) points at an incomplete folder: ${problem}`)
    }
    for (const lock of await ageLocks(base)) locksAged[lock] = (locksAged[lock] ?? 0) + 1
    const phase = run.served === undefined ? 'boot' : run.doing?.op ?? 'between steps'
    killedIn[phase] = (killedIn[phase] ?? 0) + 1
    steps += run.steps
    previous = locked
  }

  const packages = await readdir(join(dir, 'packages')).catch(() => [])
  const scratch = await readdir(join(dir, 'tmp')).catch(() => [])
  t.diagnostic(`${KILLS} kills: ${JSON.stringify(killedIn)}; ${steps} steps completed between them; ` +
    `lock directories found (and aged): ${JSON.stringify(locksAged)}; left: lockfile ${describeLocked(previous)}, packages/ ${JSON.stringify(packages)}, ` +
    `${scratch.length} scratch folders in tmp/`)
  assert.ok(steps > 0, 'the children completed steps')
  assert.ok(KILLS < 5 || KILLS - (killedIn.boot ?? 0) - (killedIn['between steps'] ?? 0) > 0, 'some kills landed during a step')

  // A child boots on the leftovers and completes two whole cycles (every step checked as above), then exits cleanly.
  const child = spawn(process.execPath, [installerScript, JSON.stringify({ base, tarballs, stopAfter: 8 })], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code] = await once(child, 'close') as [number | null]
  clearTimeout(guard)
  assert.equal(code, 0, `the last installer completed two cycles and exited:\n${stdout}\n${stderr}`)
  const last = parseRun(stdout, stderr)
  assert.equal(last.served, previous?.version ?? null)
  assert.equal(last.steps, 8)
  const { entries } = await lockedOnDisk(dir)
  for (const entry of entries) assert.equal(await folderProblem(dir, entry), undefined)
})
