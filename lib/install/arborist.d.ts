// @npmcli/arborist ships no types; the kit uses only its constructor and reify().
declare module '@npmcli/arborist' {
  interface ArboristOptions {
    path: string
    registry?: string
    ignoreScripts?: boolean
    omit?: string[]
    legacyPeerDeps?: boolean
    audit?: boolean
    fund?: boolean
    [key: string]: unknown
  }
  export default class Arborist {
    constructor (options: ArboristOptions)
    reify (options?: { save?: boolean, omit?: string[] }): Promise<unknown>
  }
}
