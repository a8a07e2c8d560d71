// Vite's `?raw` imports: the file's text (test/unit/rate-limit-policy.test.ts reads wrangler.toml).
declare module "*?raw" {
  const text: string;
  export default text;
}
