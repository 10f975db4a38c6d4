/**
 * Names and enumerations of config.yaml (docs/design.md §3), in a module with no
 * dependencies so the `auth token` fast path can use them without the YAML
 * parser (docs/design.md §7).
 */
export const FLOWS = ['auto', 'browser', 'device'] as const;
export const STORAGES = ['keychain', 'file', 'encrypted-file'] as const;
export type Flow = (typeof FLOWS)[number];
export type StorageKind = (typeof STORAGES)[number];

export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
