// What --help prints for the CLI and each command, and what follows a usage error.

const USAGE = `Usage: fastify-pluginkit <command> [options]

Commands:
  new <name>   create a plugin folder: entry module, blueprint, template, stylesheet, test
  check        discover, import and validate plugins exactly as the kit does at boot

Options:
  -h, --help     show help (also: fastify-pluginkit <command> --help)
  -v, --version  show the version
`

const NEW_HELP = `Usage: fastify-pluginkit new <name> [--dir plugins] [--ts|--js] [--author NAME] [--slot footer]

Creates <dir>/<name>/ with:
  index.mjs (or index.ts)     the manifest: definePlugin({ name, version: '0.1.0', author, ... })
                              with a TypeBox configSchema, a blueprint (GET /<name>) and a tep
                              contribution of templates/<name>/panel.html to the <slot> slot
  templates/<name>/panel.html the HTML the plugin contributes to the host's pages
  static/<name>/style.css     served at /assets/<name>/<name>/style.css
  <name>.test.mjs (.test.ts)  a node:test file using buildHost from fastify-pluginkit/testing
  package.json                { "type": "module" }, only for TypeScript outside a package whose
                              package.json already says "type": "module"

Options:
  --dir DIR       plugins folder to create the plugin in (default: plugins)
  --ts            TypeScript plugin; its test runs with: node --import tsx --test.
                  The default when the project has TypeScript set up (a typescript
                  dependency or a tsconfig.json) and tsx installed
  --js            JavaScript (ES module) plugin; its test runs with: node --test.
                  The default otherwise: it loads in any project
  --author NAME   manifest author (default: git config user.name)
  --slot NAME     slot the panel is contributed to (default: footer)
  -h, --help      show this help

<name> must match /^[A-Za-z0-9][A-Za-z0-9_-]*$/. An existing folder is never overwritten.
Exit code: 0 created, 1 invalid name or existing folder, 2 usage error.
`

const CHECK_HELP = `Usage: fastify-pluginkit check [--base DIR] [--folder plugins] [--package NAME ...] [--plugin-config FILE] [--json]

Boots the kit without listening — the same discovery, import, manifest and semver range
checks, dependency order, extension point shapes and tep template files as at app start —
and reports every plugin with its problems and their PLUGINKIT_ERR_* codes.

The state shown is the manifest's initial state: check uses the memory store, so the
app's state file (.pluginkit-state.json) is never read or written. TypeScript plugins are
loaded through tsx when it is installed.

Options:
  --base DIR            pluginsBase: where plugins/ and packages are found (default: .)
  --folder DIR          pluginsFolder, relative to --base (default: plugins; when given,
                        it must exist)
  --package NAME        a plugin package (pluginPackages); repeat for several
  --plugin-config FILE  a JSON file { "<plugin>": { ...config } } used as pluginConfig
  --json                print a JSON report instead of a table
  -h, --help            show this help

Exit code: 0 when every plugin is valid, 1 when one is not or the kit cannot boot,
2 usage error.
`

export { CHECK_HELP, NEW_HELP, USAGE }
