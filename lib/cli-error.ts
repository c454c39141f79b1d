/** A problem the user can fix (bad name, existing folder, unreadable file): the CLI prints it and exits with code 1. */
export class CliError extends Error {}
