// The package's build, imported by its path by zod-to-openapi-bundled.ts (so that the [alias] of
// the package name does not catch it), has the package's types.
declare module "@asteasolutions/zod-to-openapi/dist/index.mjs" {
  export * from "@asteasolutions/zod-to-openapi";
}
