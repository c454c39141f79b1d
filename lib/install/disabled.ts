import { kitError } from '../errors.js'
import type { InstallApi } from '../api.js'

/** The install API of a kit without the `install` option: every operation rejects, nothing is pending. */
export function disabledInstaller (): InstallApi {
  const notEnabled = async (): Promise<never> => {
    throw kitError('PLUGINKIT_ERR_INSTALL', { option: 'install' }, undefined,
      'run-time install is not enabled: register the kit with install: { allow: [...] }')
  }
  return {
    install: notEnabled,
    upgrade: notEnabled,
    rollback: notEnabled,
    uninstall: notEnabled,
    pending: [],
    operation: undefined,
    syncError: undefined
  }
}
