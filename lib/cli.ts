#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { parseArgs, styleText, type ParseArgsConfig } from 'node:util'
import type { CheckedPlugin, CheckReport } from './cli-check.js'
import { CliError } from './cli-error.js'
import { CHECK_HELP, INSTALL_HELP, NEW_HELP, USAGE } from './cli-help.js'

// Commands load their modules (the kit, Fastify, TypeBox) only when they run, so that
// --help and usage errors answer at once.

class UsageError extends Error {}

interface Output {
  out: (text: string) => void
  err: (text: string) => void
  color: boolean
}

type Style = Parameters<typeof styleText>[0]

function paint (output: Output, style: Style, text: string): string {
  return output.color ? styleText(style, text) : text
}

function parse<T extends ParseArgsConfig['options']> (args: string[], options: T, allowPositionals: boolean) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true })
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
}

async function runNew (args: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(args, {
    dir: { type: 'string', default: 'plugins' },
    ts: { type: 'boolean' },
    js: { type: 'boolean' },
    author: { type: 'string' },
    slot: { type: 'string', default: 'footer' },
    help: { type: 'boolean', short: 'h' }
  }, true)
  if (values.help === true) {
    output.out(NEW_HELP)
    return 0
  }
  if (values.ts === true && values.js === true) throw new UsageError('--ts and --js cannot be used together')
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'new needs a plugin name' : `new takes one name, got ${positionals.length}`)
  }
  const name = positionals[0] as string
  const cwd = process.cwd()
  const { createPlugin } = await import('./cli-new.js')
  const result = await createPlugin({
    name,
    dir: values.dir,
    ...(values.js === true ? { language: 'js' as const } : values.ts === true ? { language: 'ts' as const } : {}),
    ...(values.author === undefined ? {} : { author: values.author }),
    slot: values.slot,
    cwd
  })
  const where = relative(cwd, result.folder) || '.'
  const test = result.files.find((file) => /\.test\.[mc]?[jt]s$/.test(file)) as string
  output.out(`${paint(output, 'green', 'created')} ${where}/ (author: ${result.author})\n` +
    result.files.map((file) => `  ${where}/${file}\n`).join('') +
    (result.hint === undefined ? '' : `${paint(output, 'dim', result.hint)}\n`) +
    '\nNext:\n' +
    `  ${result.language === 'js' ? 'node --test' : 'node --import tsx --test'} ${where}/${test}\n` +
    `  npx fastify-pluginkit check${values.dir === 'plugins' ? '' : ` --folder ${values.dir}`}\n`)
  return 0
}

type CellStyle = ((cell: string) => Style | undefined) | undefined

function table (rows: string[][], output: Output, styles: CellStyle[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? []
  return rows.map((row, index) => row.map((cell, column) => {
    const padded = column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)
    const style = index === 0 ? 'bold' : styles[column]?.(cell)
    return style === undefined ? padded : paint(output, style, padded)
  }).join('  ').trimEnd()).join('\n') + '\n'
}

function stateStyle (state: string): Style | undefined {
  return state === 'enabled' ? 'green' : state === 'disabled' ? 'yellow' : state === 'failed' ? 'red' : undefined
}

function sourceText (plugin: CheckedPlugin): string {
  return plugin.packageName === undefined ? plugin.source : `package ${plugin.packageName}`
}

function printReport (report: CheckReport, output: Output): void {
  if (report.error !== undefined) {
    output.err(`${paint(output, 'red', 'error')} ${paint(output, 'bold', report.error.code)}: ${report.error.message}\n`)
    return
  }
  if (report.plugins.length === 0) {
    output.out(`no plugins found in ${report.folder}${report.packages.length === 0 ? '' : ` or ${report.packages.join(', ')}`}\n`)
    return
  }
  const rows = [['NAME', 'VERSION', 'STATE', 'SOURCE', 'EXTENSION POINTS', 'PROBLEMS']]
  for (const plugin of report.plugins) {
    rows.push([
      plugin.name,
      plugin.version ?? '-',
      plugin.state,
      sourceText(plugin),
      plugin.extensionPoints.join(', ') || '-',
      [...new Set(plugin.problems.map((problem) => problem.code))].join(', ') || '-'
    ])
  }
  const problemStyle = (cell: string): Style | undefined => cell === '-' ? undefined : 'red'
  let text = table(rows, output, [undefined, undefined, stateStyle, undefined, undefined, problemStyle])
  const offering = report.plugins.filter((plugin) => plugin.services.length > 0 || plugin.decorators.length > 0)
  if (offering.length > 0) {
    text += '\nServices and decorators:\n'
    for (const plugin of offering) {
      const parts = [
        ...(plugin.services.length > 0 ? [`provides ${plugin.services.join(', ')}`] : []),
        ...(plugin.decorators.length > 0 ? [`decorates ${plugin.decorators.join(', ')}`] : [])
      ]
      text += `  ${paint(output, 'bold', plugin.name)}: ${parts.join('; ')}\n`
    }
  }
  const failed = report.plugins.filter((plugin) => plugin.problems.length > 0)
  if (failed.length > 0) {
    text += '\nProblems:\n'
    for (const plugin of failed) {
      const where = plugin.dir === undefined ? '' : ` (${relative(process.cwd(), plugin.dir) || '.'})`
      text += `  ${paint(output, 'bold', plugin.name)}${where}\n`
      for (const problem of plugin.problems) text += `    ${paint(output, 'red', problem.code)} ${problem.message}\n`
    }
  }
  const valid = report.plugins.length - failed.length
  text += `\n${report.plugins.length} plugin${report.plugins.length === 1 ? '' : 's'}: ` +
    `${paint(output, valid > 0 ? 'green' : 'dim', `${valid} valid`)}, ` +
    `${paint(output, failed.length > 0 ? 'red' : 'dim', `${failed.length} failed`)}\n`
  output.out(text)
}

async function runCheck (args: string[], output: Output): Promise<number> {
  const { values } = parse(args, {
    base: { type: 'string', default: '.' },
    folder: { type: 'string' },
    package: { type: 'string', multiple: true, default: [] },
    'plugin-config': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' }
  }, false)
  if (values.help === true) {
    output.out(CHECK_HELP)
    return 0
  }
  const json = values.json === true
  // Plugins that print while they load must not break the JSON on stdout.
  const restore = json ? redirectConsole() : () => {}
  let report: CheckReport
  try {
    const { checkPlugins } = await import('./cli-check.js')
    report = await checkPlugins({
      base: values.base,
      ...(values.folder === undefined ? {} : { folder: values.folder }),
      packages: values.package,
      ...(values['plugin-config'] === undefined ? {} : { pluginConfigFile: values['plugin-config'] })
    })
  } finally {
    restore()
  }
  if (json) output.out(`${JSON.stringify(report, null, 2)}\n`)
  else printReport(report, output)
  return report.ok ? 0 : 1
}

async function runInstall (command: 'install' | 'uninstall' | 'list', args: string[], output: Output): Promise<number> {
  const { values, positionals } = parse(args, {
    base: { type: 'string', default: '.' },
    dir: { type: 'string', default: '.pluginkit' },
    registry: { type: 'string' },
    allow: { type: 'string', multiple: true, default: [] },
    folder: { type: 'string' },
    package: { type: 'string', multiple: true, default: [] },
    'plugin-config': { type: 'string' },
    frozen: { type: 'boolean' },
    cascade: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' }
  }, true)
  if (values.help === true) {
    output.out(INSTALL_HELP)
    return 0
  }
  const frozen = command === 'install' && values.frozen === true
  const wanted = command === 'list' || frozen ? 0 : 1
  if (positionals.length !== wanted) {
    throw new UsageError(wanted === 0
      ? `${command}${frozen ? ' --frozen' : ''} takes no arguments`
      : `${command} needs one ${command === 'install' ? 'spec' : 'plugin name'}`)
  }
  const { resolve } = await import('node:path')
  const dir = resolve(values.base, values.dir)
  const install = await import('./install/frozen.js')
  const cli = await import('./cli-install.js')
  const options = {
    base: values.base,
    ...(values.folder === undefined ? {} : { folder: values.folder }),
    packages: values.package,
    ...(values['plugin-config'] === undefined ? {} : { pluginConfigFile: values['plugin-config'] }),
    dir: values.dir,
    ...(values.registry === undefined ? {} : { registry: values.registry }),
    // The operator at the shell may install anything, as with npm install; --allow narrows it.
    allow: values.allow.length === 0 ? ['*', '@*/*'] : values.allow
  }
  const run = async (): Promise<string> => {
    if (command === 'list') {
      const listed = await install.listInstalled(dir)
      if (values.json === true) return `${JSON.stringify({ plugins: listed }, null, 2)}\n`
      if (listed.length === 0) return 'no plugin packages installed\n'
      const rows = [['Plugin', 'Package', 'Version', 'Source', 'Previous', 'Files'],
        ...listed.map((plugin) =>
          [plugin.name, plugin.package, plugin.version, plugin.source, plugin.previous ?? '-', plugin.problem ?? 'intact'])]
      return table(rows, output, [undefined, undefined, undefined, undefined, undefined, (cell) => cell === 'intact' ? 'green' : 'red'])
    }
    if (frozen) {
      const [{ npmOptions }, { DEFAULT_MAX_TARBALL_BYTES }] = await Promise.all([import('./install/npm-config.js'), import('./options.js')])
      const done = await install.installFrozen({
        dir, allow: options.allow, npm: npmOptions(resolve(values.base), values.registry), maxTarballBytes: DEFAULT_MAX_TARBALL_BYTES
      })
      return done.map((entry) => `${paint(output, 'green', entry.outcome)} ${entry.package}@${entry.version} (${entry.name})\n`).join('') +
        `${done.length} package version${done.length === 1 ? '' : 's'} as pinned in ${values.dir}/plugins.lock.json\n`
    }
    if (command === 'install') {
      const { plugin } = await cli.cliInstall(positionals[0] as string, options)
      return `${paint(output, 'green', 'installed')} ${plugin.package}@${plugin.version} as plugin "${plugin.name}"\n` +
        'a running app under @fastify/restartable sharing this folder swaps itself onto it; any other serves it at its next start\n'
    }
    await cli.cliUninstall(positionals[0] as string, values.cascade === true, options)
    return `${paint(output, 'green', 'uninstalled')} ${positionals[0] as string}\n`
  }
  try {
    output.out(await run())
  } catch (error) {
    if (error instanceof CliError) throw error
    const { describe } = await import('./errors.js')
    const code = (error as { code?: unknown }).code
    throw new CliError(`${typeof code === 'string' ? `${code} ` : ''}${describe(error)}`)
  }
  return 0
}

function redirectConsole (): () => void {
  const saved = { log: console.log, info: console.info, debug: console.debug }
  console.log = console.info = console.debug = console.error
  return () => Object.assign(console, saved)
}

/** Runs the command line `args` (without node and the script); resolves to the exit code. */
export async function main (args: string[], output: Output): Promise<number> {
  const [command, ...rest] = args
  try {
    if (command === undefined) {
      output.err(USAGE)
      return 2
    }
    if (command === '-h' || command === '--help' || command === 'help') {
      output.out(USAGE)
      return 0
    }
    if (command === '-v' || command === '--version') {
      const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
      output.out(`${version}\n`)
      return 0
    }
    if (command === 'new') return await runNew(rest, output)
    if (command === 'check') return await runCheck(rest, output)
    if (command === 'install' || command === 'uninstall' || command === 'list') return await runInstall(command, rest, output)
    throw new UsageError(command.startsWith('-') ? `unknown option ${command}` : `unknown command "${command}"`)
  } catch (error) {
    if (error instanceof UsageError) {
      const help = command === 'new'
        ? NEW_HELP
        : command === 'check' ? CHECK_HELP : ['install', 'uninstall', 'list'].includes(command ?? '') ? INSTALL_HELP : USAGE
      output.err(`fastify-pluginkit: ${error.message}\n\n${help}`)
      return 2
    }
    if (error instanceof CliError) {
      output.err(`${paint(output, 'red', 'error')} ${error.message}\n`)
      return 1
    }
    throw error
  }
}

const color = process.stdout.isTTY === true && (process.env.NO_COLOR ?? '') === ''
let code: number
try {
  code = await main(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    color
  })
} catch (error) {
  process.stderr.write(`fastify-pluginkit: unexpected error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  code = 1
}
// Exit explicitly: a checked plugin may leave timers or sockets open. Flush stdout first.
process.stdout.write('', () => process.exit(code))
