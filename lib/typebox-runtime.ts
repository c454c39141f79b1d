import { createRequire } from 'node:module'

type CompileModule = typeof import('typebox/compile')

/**
 * TypeBox's compiler, loaded on first use. Importing it adds about 300 ES modules (~95 ms on
 * this project's 2-core machine) to the kit's load, and a boot whose manifests and configs
 * `accepts()` vouches for never calls it. The checkers that need it are synchronous, hence
 * `require()` of the ES module (Node ≥ 22.12, which `engines` asks for): under plain Node it
 * shares the ES module cache, so TypeBox stays one instance.
 */
const require = createRequire(import.meta.url)
let loaded: CompileModule | undefined

export function typeboxCompile (): CompileModule {
  loaded ??= require('typebox/compile') as CompileModule
  return loaded
}

/**
 * Imports the compiler ahead, for hosts that check values while they run (admin, install,
 * dev reload) and for `fastify-pluginkit check`.
 */
export async function preloadCompiler (): Promise<void> {
  loaded ??= await import('typebox/compile')
}

/**
 * Whether a TypeScript loader (tsx, ts-node, ...) hooks `require()`: it then hands ES modules
 * to its CommonJS transform, and requiring the compiler would load a second TypeBox (1–5 s
 * under tsx, the first time), so such hosts import it up front instead.
 */
export function requireIsHooked (): boolean {
  return Object.hasOwn(require.extensions, '.ts')
}

/**
 * Loads TypeBox itself (373 ES modules, which the kit and most plugins import) with `require()`
 * before the kit's implementation is imported: evaluating a module graph synchronously skips
 * the loader's asynchronous job per module, ~100 ms instead of ~175 ms here. The kit's and the
 * plugins' `import`s then find it in the shared cache. Not under a TypeScript loader (a
 * second TypeBox, see above).
 */
export function preloadTypeBox (): void {
  if (!requireIsHooked()) require('typebox')
}
