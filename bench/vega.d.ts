// vega exports vega-scenegraph's text measurement, which its typings leave out: the function that
// lays text out (labels, titles, legends) by its width, replaced here by one that measures it.
import "vega";

declare module "vega" {
  type TextItem = { font?: string; fontSize?: number; fontWeight?: string | number; fontStyle?: string };
  export const textMetrics: { width: (item: TextItem, text: unknown) => number };
}
