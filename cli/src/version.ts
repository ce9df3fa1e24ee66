// The CLI version, injected by cli/build.mjs from package.json ("0.0.0-dev" when run from source).
declare const __UKERNEL_VERSION__: string | undefined;
export const VERSION = typeof __UKERNEL_VERSION__ === 'string' ? __UKERNEL_VERSION__ : '0.0.0-dev';
