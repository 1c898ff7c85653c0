// node-addon-api ships no types; scripts/asan/build.mjs reads its include_dir.
declare module 'node-addon-api' {
  const napi: {
    /** The headers' directory, relative to the current directory. */
    include_dir: string;
    version: string;
  };
  export = napi;
}
