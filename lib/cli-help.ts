// What --help prints for the CLI and each command, and what follows a usage error.

const USAGE = `Usage: fastify-pluginkit <command> [options]

Commands:
  new <name>   create a plugin folder: entry module, blueprint, template, stylesheet, test
  check        discover, import and validate plugins exactly as the kit does at boot
  install      install a plugin package (npm spec or npm pack tarball), or with --frozen
               exactly what plugins.lock.json pins
  uninstall    remove an installed plugin package
  list         the installed plugin packages, each checked against its recorded files

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

const INSTALL_HELP = `Usage: fastify-pluginkit install <spec | file.tgz> [options]
       fastify-pluginkit install --frozen [--base DIR] [--dir .pluginkit] [--registry URL]
       fastify-pluginkit uninstall <name> [--cascade] [options]
       fastify-pluginkit list [--base DIR] [--dir .pluginkit] [--json]

The same code as app.pluginKit.install / uninstall, without a running app: the package is
fetched (integrity verified and pinned), its production dependencies installed without
running any install script, validated by booting the kit with it exactly as the app would,
then written to <dir>/plugins.lock.json. A running app under @fastify/restartable that
shares <dir> swaps itself onto the change within seconds; any other app serves it at its
next start.

--frozen installs exactly what plugins.lock.json pins (and the versions kept for rollback),
fetched by their pinned integrity, and fails on any mismatch: the npm ci of plugins, for
reproducible deploys and images. The lockfile is never written.

Options:
  --base DIR            pluginsBase of the host (default: .)
  --dir DIR             install.dir, relative to --base (default: .pluginkit)
  --registry URL        npm registry (default: npm's configuration: .npmrc, npm_config_registry)
  --allow PATTERN       package-name pattern that may be installed (like install.allow);
                        repeat for several (default: any package)
  --folder DIR          pluginsFolder, relative to --base, for validation (as check)
  --package NAME        a pluginPackages package, for validation; repeat for several
  --plugin-config FILE  a JSON file used as pluginConfig, for validation
  --cascade             uninstall: disable the plugins that depend on it first
  --json                list: print JSON
  -h, --help            show this help

Exit code: 0 done, 1 refused or failed (the PLUGINKIT_ERR_* code is printed), 2 usage error.
`

export { CHECK_HELP, INSTALL_HELP, NEW_HELP, USAGE }
