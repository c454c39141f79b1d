/**
 * `tsx bench/check.ts [count]` (after `npm run build`): generates `count` (default 1000)
 * plugins with the code `fastify-pluginkit new` writes, in a temporary project, and times
 * `node dist/cli.js check --json` over them — once with JavaScript plugins (`new --js`) and
 * once with TypeScript plugins (`new`, loaded through tsx). Prints the figures as Markdown
 * for bench/RESULTS.md. The median of several runs is reported.
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createPlugin } from '../lib/cli-new.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'dist', 'cli.js')
const count = Number(process.argv[2] ?? 1000)
const RUNS = 3

interface Run { ms: number, code: number | null, valid: number, total: number }

async function timeCheck (project: string): Promise<Run> {
  const started = performance.now()
  const child = spawn(process.execPath, [cli, 'check', '--json'], { cwd: project, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  const ms = performance.now() - started
  const report = JSON.parse(out) as { plugins: Array<{ problems: unknown[] }> }
  return { ms, code, valid: report.plugins.filter((plugin) => plugin.problems.length === 0).length, total: report.plugins.length }
}

async function project (language: 'js' | 'ts'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `pluginkit-bench-check-${language}-`))
  // The generated plugins import fastify-pluginkit and typebox; TypeScript ones need tsx.
  await mkdir(join(dir, 'node_modules'))
  await symlink(root, join(dir, 'node_modules', 'fastify-pluginkit'), 'junction')
  for (const name of ['typebox', 'tsx', 'fastify']) {
    await symlink(join(root, 'node_modules', name), join(dir, 'node_modules', name), 'junction')
  }
  for (let index = 0; index < count; index++) {
    await createPlugin({ name: `p${String(index).padStart(4, '0')}`, dir: 'plugins', language, author: 'bench', slot: 'footer', cwd: dir })
  }
  return dir
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const lines = [
  `### \`fastify-pluginkit check\` on ${count} generated plugins`,
  '',
  `Node ${process.version}, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? 'unknown'}); wall time of \`node dist/cli.js check --json\`,`,
  `median of ${RUNS} runs, each plugin as written by \`fastify-pluginkit new\` (bep + tep template + static + config schema).`,
  '',
  '| plugins | language | wall time (median) | runs (ms) | valid | exit code |',
  '|---|---|---|---|---|---|'
]
for (const language of ['js', 'ts'] as const) {
  const dir = await project(language)
  try {
    const runs: Run[] = []
    for (let run = 0; run < RUNS; run++) runs.push(await timeCheck(dir))
    const last = runs[runs.length - 1] as Run
    lines.push(`| ${count} | ${language === 'js' ? 'JavaScript (`new --js`)' : 'TypeScript (`new`, via tsx)'} | ${(median(runs.map((run) => run.ms)) / 1000).toFixed(2)} s | ` +
      `${runs.map((run) => Math.round(run.ms)).join(', ')} | ${last.valid}/${last.total} | ${last.code} |`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
console.log(lines.join('\n'))
