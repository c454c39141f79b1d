/**
 * `tsx bench/check.ts [count]` (after `npm run build`): generates `count` (default 1000)
 * plugins with the code `fastify-pluginkit new` writes, in a temporary project, and times
 * `node dist/cli.js check --json` over them — once with JavaScript plugins (`new --js`) and
 * once with TypeScript plugins (`new`, loaded through tsx). Prints the figures as Markdown
 * for bench/RESULTS.md. The median of CHECK_RUNS (default 3) runs is reported.
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createPlugin } from '../lib/cli-new.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'dist', 'cli.js')
const count = Number(process.argv[2] ?? 1000)
// `npm run bench` runs it once per language to stay within its time budget.
const RUNS = Number(process.env.CHECK_RUNS ?? 3)

interface Run { ms: number, cpuMs: number, code: number | null, valid: number, total: number }

// The child reports its own CPU time (user + system) on stderr as it exits: wall time depends
// on what else the machine runs, CPU time much less.
const reportCpu = 'data:text/javascript,' +
  'process.on("exit",()=>{const u=process.cpuUsage();process.stderr.write("cpu-ms "+(u.user+u.system)/1000+"\\n")})'

async function timeCheck (project: string): Promise<Run> {
  const started = performance.now()
  const child = spawn(process.execPath, ['--import', reportCpu, cli, 'check', '--json'], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  const ms = performance.now() - started
  const cpuMs = Number(/cpu-ms ([\d.]+)/.exec(err)?.[1] ?? Number.NaN)
  if (Number.isNaN(cpuMs)) process.stderr.write(err)
  const report = JSON.parse(out) as { plugins: Array<{ problems: unknown[] }> }
  return { ms, cpuMs, code, valid: report.plugins.filter((plugin) => plugin.problems.length === 0).length, total: report.plugins.length }
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
  `Node ${process.version}, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()[0]?.toFixed(1)} at start;`,
  `wall and CPU time of the whole \`node dist/cli.js check --json\` process, median of ${RUNS} runs;`,
  'each plugin as written by `fastify-pluginkit new` (bep + tep template + static file + config schema).',
  '',
  '| plugins | language | wall time (median) | CPU time (median) | wall times (ms) | valid | exit code |',
  '|---|---|---|---|---|---|---|'
]
// CHECK_LANGUAGES=js skips the TypeScript run (npm run bench does, to stay within its time budget).
const languages = (process.env.CHECK_LANGUAGES ?? 'js,ts').split(',')
  .filter((language): language is 'js' | 'ts' => language === 'js' || language === 'ts')
for (const language of languages) {
  const dir = await project(language)
  try {
    const runs: Run[] = []
    for (let run = 0; run < RUNS; run++) runs.push(await timeCheck(dir))
    const last = runs[runs.length - 1] as Run
    const languageLabel = language === 'js' ? 'JavaScript (`new --js`)' : 'TypeScript (`new`, via tsx)'
    lines.push(`| ${count} | ${languageLabel} | ${(median(runs.map((run) => run.ms)) / 1000).toFixed(2)} s | ` +
      `${(median(runs.map((run) => run.cpuMs)) / 1000).toFixed(2)} s | ` +
      `${runs.map((run) => Math.round(run.ms)).join(', ')} | ${last.valid}/${last.total} | ${last.code} |`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
console.log(lines.join('\n'))
