import { createRequire } from 'node:module'

/**
 * TypeBox's compiler, loaded on first use. Importing them adds about
 * 300 ES modules (~95 ms on this project's 2-core machine) to the kit's load, and a boot whose
 * manifests and configs `accepts()` vouches for never calls them. The checkers that need them
 * are synchronous, hence `require()` of the ES modules (Node ≥ 22.12, which `engines` asks
 * for): it shares Node's ES module cache, so TypeBox stays one instance.
 */
const require = createRequire(import.meta.url)

export function typeboxCompile (): typeof import('typebox/compile') {
  return require('typebox/compile') as typeof import('typebox/compile')
}
