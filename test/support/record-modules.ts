// Preloaded with `--import` into a CLI process: writes, at exit, every module file the process
// loaded (ESM through a resolve hook, CommonJS from require's cache) to $HCPEB_MODULE_LOG, one a line.
// Lets a test say which libraries a command pulls in, without timing anything.
import { appendFileSync, writeFileSync } from "node:fs";
import { createRequire, register } from "node:module";

const log = process.env.HCPEB_MODULE_LOG;
if (log) {
  writeFileSync(log, "");
  const hook = `data:text/javascript,${encodeURIComponent(`
    import { appendFileSync } from "node:fs";
    export async function resolve(specifier, context, next) {
      const r = await next(specifier, context);
      appendFileSync(${JSON.stringify(log)}, r.url + "\\n");
      return r;
    }`)}`;
  register(hook);
  const require = createRequire(import.meta.url);
  process.on("exit", () => appendFileSync(log, Object.keys(require.cache).join("\n")));
}
