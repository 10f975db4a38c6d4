declare const __VERSION__: string;

/** This CLI's version, baked in by scripts/build.mjs (esbuild `define`); '0.0.0-dev' when run from source. */
export const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0-dev';
