import { createRequire } from 'node:module'

/** This package's version (package.json), for `kitVersion` and the manifests' `kit` ranges. */
export const kitVersion: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version
