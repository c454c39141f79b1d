import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Static + page fixtures: plugin `theme` with a 16 KiB stylesheet, and 20 plugins each
 * contributing one template file to slot `main`; `slots.html` renders the slot, while
 * `hand/includes.html` includes the same 20 files by hand.
 */
export async function writeFixtures (root: string, parts = 20): Promise<string> {
  await rm(root, { recursive: true, force: true })
  const write = async (path: string, content: string) => {
    await mkdir(join(root, path, '..'), { recursive: true })
    await writeFile(join(root, path), content)
  }
  await write('plugins/theme/index.mjs', "export default { name: 'theme', version: '1.0.0', author: 'bench', register: () => ({}) }\n")
  await write('plugins/theme/static/theme.css', 'body { color: #123456 }\n'.repeat(700))
  const includes: string[] = []
  for (let index = 0; index < parts; index++) {
    const name = `part${String(index).padStart(2, '0')}`
    const manifest = `export default { name: '${name}', version: '1.0.0', author: 'bench', ` +
      `register: () => ({ tep: { main: '${name}/part.html' } }) }\n`
    await write(`plugins/${name}/index.mjs`, manifest)
    const part = `<section id="${name}"><h2>{{ title }} ${index}</h2><p>Contribution ${index}</p></section>\n`
    await write(`plugins/${name}/templates/${name}/part.html`, part)
    includes.push(`{% include '${name}/part.html' %}`)
  }
  const head = '<!doctype html><html><head><title>{{ title }}</title></head>'
  await write('templates/slots.html', `${head}<body>{{ emit_tep('main') }}</body></html>\n`)
  await write('hand/includes.html', `${head}<body>${includes.join('')}</body></html>\n`)
  return root
}

/** Template folders the hand-written page needs (what the kit computes itself). */
export function handTemplateFolders (root: string, parts = 20): string[] {
  return Array.from({ length: parts }, (_, index) => join(root, 'plugins', `part${String(index).padStart(2, '0')}`, 'templates'))
}
