// The README followed as written, as a new user would: the Quickstart's commands and files in
// an empty folder that installs the packed tarball, type-checked with its tsconfig and run with
// its command; then "Writing a plugin" in that TypeScript project and in a plain JavaScript one.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const readme = await readFile(join(root, 'README.md'), 'utf8')

/** The text of README section `## title`, up to the next `## `. */
function section (title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`)
  assert.ok(start >= 0, `README has a section "${title}"`)
  const end = readme.indexOf('\n## ', start + 1)
  return readme.slice(start, end < 0 ? undefined : end)
}

interface Block { lang: string, code: string }
function blocks (text: string): Block[] {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({ lang: match[1] ?? '', code: match[2] ?? '' }))
}

/** The block that follows `marker` (a line of prose or a command) in `text`. */
function blockAfter (text: string, marker: string): Block {
  const at = text.indexOf(marker)
  assert.ok(at >= 0, `README says ${marker}`)
  const [block] = blocks(text.slice(at + marker.length))
  assert.ok(block !== undefined, `a code block follows ${marker}`)
  return block
}

const quickstart = section('Quickstart: the helloworld plugin')
const writing = section('Writing a plugin')

// Child processes run as in a terminal: no test runner context, no colours.
const { NODE_TEST_CONTEXT: _context, ...parentEnv } = process.env
const gitConfig = join(await mkdtemp(join(tmpdir(), 'pluginkit-git-')), 'gitconfig')
await writeFile(gitConfig, '[user]\n\tname = Ada Lovelace\n')
const env = { ...parentEnv, NO_COLOR: '1', GIT_CONFIG_GLOBAL: gitConfig, GIT_CONFIG_NOSYSTEM: '1' }

interface Result { code: number, stdout: string, stderr: string }

/** Runs one README command line with sh in `cwd`; rejects with its output when it fails. */
async function sh (command: string, cwd: string): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync('sh', ['-c', command], { cwd, env, maxBuffer: 16 * 1024 * 1024 })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number, stdout: string, stderr: string }
    assert.fail(`\`${command}\` exited with ${code}:\n${stdout}\n${stderr}`)
  }
}

// The tarball, as in pack.test.ts: dist/ is built by `npm test`, so pack without scripts.
assert.ok(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run `npm run build` first')
const packDir = await mkdtemp(join(tmpdir(), 'pluginkit-quickstart-pack-'))
const packed = await execFileAsync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: root })
const tarball = join(packDir, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]?.filename ?? '')
const tsProject = await mkdtemp(join(tmpdir(), 'pluginkit-quickstart-ts-'))
const jsProject = await mkdtemp(join(tmpdir(), 'pluginkit-quickstart-js-'))
after(() => Promise.all([packDir, tsProject, jsProject, dirname(gitConfig)].map((dir) => rm(dir, { recursive: true, force: true }))))

/** A README setup line as run here: the package comes from the tarball, npm stays quiet. */
function local (line: string): string {
  return line.startsWith('npm install') ? `${line.replace(/ fastify-pluginkit\b/, ` ${tarball}`)} --no-audit --no-fund --prefer-offline --loglevel=error` : line
}

// Step 0: the project. The JavaScript project runs the same lines but the TypeScript tools.
const setup = blockAfter(quickstart, '**0. The project.**').code.trim().split('\n')
assert.deepEqual(setup, [
  'npm init -y && npm pkg set type=module',
  'npm install fastify-pluginkit fastify typebox',
  'npm install -D tsx typescript @types/node'
])
async function prepare (project: string, lines: string[]): Promise<void> {
  for (const line of lines) await sh(local(line), project)
}
const tsReady = prepare(tsProject, setup)
const jsReady = prepare(jsProject, setup.filter((line) => !line.includes(' -D ')))
tsReady.catch(() => {}) // each is reported by the test that awaits it
jsReady.catch(() => {})

/** Starts a long-running command in its own process group; resolves to the port it listens on. */
function serve (command: string, cwd: string): Promise<{ port: number, stop: () => void }> {
  const child = spawn('sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const stop = () => { try { process.kill(-(child.pid as number), 'SIGTERM') } catch {} }
  after(stop)
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { stop(); reject(new Error(`\`${command}\` did not listen within 60 s:\n${output}`)) }, 60_000)
    const read = (chunk: string) => {
      output += chunk
      const listening = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
      if (listening !== null) {
        clearTimeout(timer)
        resolve({ port: Number(listening[1]), stop })
      }
    }
    child.stdout.setEncoding('utf8').on('data', read)
    child.stderr.setEncoding('utf8').on('data', read)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`\`${command}\` exited with ${code}:\n${output}`)) })
  })
}

/** Runs each `$ curl ...` line of a README block against `port` and compares with the lines shown under it. */
async function curl (block: string, port: number): Promise<number> {
  const steps = block.trim().split(/^\$ /m).filter(Boolean)
  for (const step of steps) {
    const [command = '', ...expected] = step.trim().split('\n')
    const args = (command.match(/'[^']*'|"[^"]*"|\S+/g) ?? []).map((arg) => arg.replace(/^(['"])(.*)\1$/, '$2'))
    assert.equal(args.shift(), 'curl', command)
    const headers: Record<string, string> = {}
    let include = false
    let url = ''
    for (let index = 0; index < args.length; index++) {
      const arg = args[index] as string
      if (arg === '-i') include = true
      else if (arg === '-H') {
        const [name = '', ...value] = (args[++index] ?? '').split(':')
        headers[name] = value.join(':').trim()
      } else url = arg.replace(':3000', `:${port}`)
    }
    const response = await fetch(url, { headers, redirect: 'manual' })
    const body = await response.text()
    if (include) {
      const [status, ...lines] = expected
      assert.equal(`HTTP/1.1 ${response.status} ${response.statusText}`, status, command)
      for (const line of lines) {
        const [name = '', ...value] = line.split(':')
        assert.equal(response.headers.get(name), value.join(':').trim(), `${command}: ${name}`)
      }
    } else {
      assert.equal(body, expected.join('\n'), command)
    }
  }
  return steps.length
}

test('Quickstart: its files type-check with its tsconfig, and its run command answers as shown', { timeout: 300_000 }, async () => {
  await tsReady
  const files = blocks(quickstart).filter((block) => /^\/\/ \S+\n/.test(block.code))
  assert.deepEqual(files.map((block) => block.code.split('\n')[0]), ['// tsconfig.json', '// server.ts', '// plugins/helloworld/index.ts'])
  for (const { code } of files) {
    const path = join(tsProject, (code.split('\n')[0] as string).slice(3))
    await mkdir(dirname(path), { recursive: true })
    // tsconfig.json may hold comments; a free port instead of 3000, so that tests can run side by side.
    await writeFile(path, code.replace('port: 3000', 'port: 0'))
  }
  const run = blockAfter(quickstart, '**5. Run it.**').code.trim().split('\n')
  assert.deepEqual(run, ['npx tsc', 'npx tsx server.ts'])
  await sh(run[0] as string, tsProject)

  const server = await serve(run[1] as string, tsProject)
  const shown = blockAfter(quickstart, 'In another terminal:').code
  assert.equal(await curl(shown, server.port), 2)
  server.stop()
})

test('Writing a plugin, in a project without TypeScript: new, its test and check work as written', { timeout: 300_000 }, async () => {
  await jsReady
  assert.ok(writing.includes('(after `npm install fastify-pluginkit fastify typebox`)'))
  const created = await sh('npx fastify-pluginkit new hello', jsProject)
  assert.equal(created.stdout, blockAfter(writing, 'npx fastify-pluginkit new hello\n```').code)
  // "What you got" is the file as generated.
  const shownEntry = blockAfter(writing, '### 2. What you got').code
  assert.equal(shownEntry, `// plugins/hello/index.mjs\n${await readFile(join(jsProject, 'plugins/hello/index.mjs'), 'utf8')}`)

  const testCommand = blockAfter(writing, '### 3. Test it').code.split('#')[0]?.trim() as string
  assert.equal(testCommand, 'node --test plugins/hello/hello.test.mjs')
  const tested = await sh(testCommand, jsProject)
  assert.match(tested.stdout, /[#ℹ] pass 2\n[#ℹ] fail 0/)

  const checked = await sh('npx fastify-pluginkit check', jsProject)
  const row = (text: string) => text.split('\n').find((line) => line.startsWith('hello '))?.replace(/ +/g, ' ')
  const shownTable = blockAfter(writing.slice(writing.indexOf('### 4. Check it')), 'npx fastify-pluginkit check\n```').code
  assert.equal(row(checked.stdout), row(shownTable))

  // The usage lines the README shows are the ones --help prints.
  for (const command of ['new', 'check']) {
    const usage = (await sh(`npx fastify-pluginkit ${command} --help`, jsProject)).stdout.split('\n')[0] as string
    assert.ok(writing.includes(`${usage.replace('Usage: ', 'Usage: `')}\``), `README shows ${usage}`)
  }
})

test('Writing a plugin, in the Quickstart\'s TypeScript project: new makes TypeScript that tests, checks and type-checks', { timeout: 300_000 }, async () => {
  await tsReady
  const created = await sh('npx fastify-pluginkit new hello', tsProject)
  assert.match(created.stdout, /plugins\/hello\/index\.ts\n/)
  const testCommand = blockAfter(writing, '### 3. Test it').code.split('# TypeScript:')[1]?.trim() as string
  assert.equal(testCommand, 'node --import tsx --test plugins/hello/hello.test.ts')
  const tested = await sh(testCommand, tsProject)
  assert.match(tested.stdout, /[#ℹ] pass 2\n[#ℹ] fail 0/)
  await sh('npx fastify-pluginkit check', tsProject)
  // The generated plugin and test pass the Quickstart's strict tsconfig (written by the first test).
  if (existsSync(join(tsProject, 'tsconfig.json'))) await sh('npx tsc', tsProject)
})
