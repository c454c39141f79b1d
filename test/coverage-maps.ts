// Run between the tests and `c8 report` (see the test:unit script): gives back the build's
// source maps to the dist/ modules tsx rewrote, so that their coverage counts for lib/*.ts.
//
// The tests load the package through dist/ under tsx. tsx leaves compiled JavaScript alone,
// except a module containing `import(`: it appends `.then(...)` after each dynamic import
// and records a source map of its own, from its output to the dist/ file, which replaces the
// one tsc wrote (dist -> lib). c8 then reports dist/loader.js instead of lib/loader.ts. tsx
// adds text only at the end of an expression, never a line, so the lines of its output are
// those of the dist/ file: the build's map applies line for line. The line lengths recorded
// with the coverage are kept, so V8's offsets still resolve to the right lines.
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

interface CacheEntry { data?: { sources?: string[] } | null, lineLengths?: number[], url?: string | null }

// c8 runs the command line holding this script with NODE_V8_COVERAGE set to its temporary folder.
const folder = process.argv[2] ?? process.env.NODE_V8_COVERAGE
if (folder === undefined) throw new Error('usage: coverage-maps.ts <NODE_V8_COVERAGE folder>')

/** The build's source map of `url`, when it is a module of dist/ that names one. */
function buildMap (url: string): unknown {
  if (!url.startsWith('file:') || !url.includes('/dist/')) return undefined
  const path = fileURLToPath(url)
  const mapPath = /\/\/# sourceMappingURL=(\S+\.map)\s*$/.exec(readFileSync(path, 'utf8'))?.[1]
  if (mapPath === undefined || !existsSync(join(dirname(path), mapPath))) return undefined
  const map = JSON.parse(readFileSync(join(dirname(path), mapPath), 'utf8')) as { sourceRoot?: string, sources: string[] }
  // Absolute sources: c8 resolves relative ones against the map's own location, which it no longer has.
  return { ...map, sourceRoot: '', sources: map.sources.map((source) => join(dirname(path), map.sourceRoot ?? '', source)) }
}

let fixed = 0
for (const file of readdirSync(folder).filter((name) => name.endsWith('.json'))) {
  const report = JSON.parse(readFileSync(join(folder, file), 'utf8')) as { 'source-map-cache'?: Record<string, CacheEntry> }
  const cache = report['source-map-cache']
  if (cache === undefined) continue
  let changed = false
  for (const [url, entry] of Object.entries(cache)) {
    // tsx's own map has one source: the dist/ file itself.
    if (entry.data?.sources?.length !== 1 || entry.data.sources[0] !== url) continue
    const map = existsSync(fileURLToPath(url)) ? buildMap(url) : undefined
    if (map === undefined) continue
    entry.data = map as CacheEntry['data']
    changed = true
    fixed++
  }
  if (changed) writeFileSync(join(folder, file), JSON.stringify(report))
}
console.log(`coverage-maps: ${fixed} dist/ module record(s) mapped back to lib/`)
