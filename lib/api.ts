import { checkHealth } from './health.js'
import { toInfo } from './record.js'
import type { KitState } from './state.js'
import type { ReloadApi } from './reload/setup.js'
import type { PluginKit } from './types.js'

/** Template-facing methods, provided by views.ts and dcp.ts. */
export type TemplateApi = Pick<PluginKit, 'emitTep' | 'emitAssets' | 'emitConfig' | 'emitDcp' | 'pushDcp' | 'removeDcp'>

/** Services of the plugins (`provide`), provided by services.ts. */
export type ServiceApi = Pick<PluginKit, 'services' | 'service'>

/** Run-time installation, provided by install/api.ts. */
export type InstallApi = Pick<PluginKit, 'install' | 'upgrade' | 'rollback' | 'uninstall' | 'pending' | 'operation' | 'syncError'>

/** `app.pluginKit`: plugin information, enable/disable, and the template helpers under both names. */
export function createApi (state: KitState, templates: TemplateApi, installer: () => InstallApi, services: ServiceApi,
  reload: ReloadApi): PluginKit {
  return {
    get plugins () { return state.records.map(toInfo) },
    get enabledPlugins () { return state.records.filter((record) => record.enabled).map(toInfo) },
    get failures () { return [...state.failures] },
    get: (name) => state.info(name),
    enable: (name, options) => state.setState(name, 'enabled', options),
    disable: (name, options) => state.setState(name, 'disabled', options),
    ...templates,
    emit_tep: templates.emitTep,
    emit_assets: templates.emitAssets,
    emit_config: templates.emitConfig,
    emit_dcp: templates.emitDcp,
    services: services.services,
    service: services.service,
    install: (spec) => installer().install(spec),
    upgrade: (name, spec) => installer().upgrade(name, spec),
    rollback: (name) => installer().rollback(name),
    uninstall: (name, options) => installer().uninstall(name, options),
    get pending () { return installer().pending },
    get operation () { return installer().operation },
    get syncError () { return installer().syncError },
    get reloads () { return reload.reloads },
    get reloadError () { return reload.reloadError },
    health: () => checkHealth(state.records)
  }
}
