// The README's Prometheus examples hold: the alert rules and the scrape config pass promtool, and name only metrics we export.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promtool } from "../support/promtool.ts";
import { startTestServer, tempDir } from "../support/server.ts";

const README = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");

/** The fenced yaml block of the README whose first line is `# {name}`. */
function readmeBlock(name: string): string {
  const m = new RegExp("```yaml\\n# " + name.replace(/\./g, "\\.") + "\\n([\\s\\S]*?)```").exec(README);
  if (!m) throw new Error(`README has no yaml block starting with # ${name}`);
  return m[1]!;
}

describe("README monitoring examples", () => {
  test("the example alert rules pass promtool check rules", async () => {
    using dir = tempDir();
    const file = join(dir.path, "stroem-logs.rules.yml");
    writeFileSync(file, readmeBlock("stroem-logs.rules.yml"));
    const r = await promtool(["check", "rules", file]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toContain("SUCCESS: 5 rules found");
  });

  test("every stroem_logs_ and process_ metric the rules name is exported by the server", async () => {
    await using s = await startTestServer();
    const exposition = await (await s.fetch("/metrics")).text();
    const families = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const named = [...readmeBlock("stroem-logs.rules.yml").matchAll(/\b((?:stroem_logs|process)_\w+)/g)].map(
      (m) => m[1]!.replace(/_(bucket|sum|count)$/, ""),
    );
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((n) => !families.has(n))).toEqual([]);
  });

  test("the example scrape config passes promtool check config", async () => {
    using dir = tempDir();
    const file = join(dir.path, "prometheus.yml");
    // promtool checks that the credentials file exists: point it at one.
    const token = join(dir.path, "token");
    writeFileSync(token, "m-token\n");
    const block = readmeBlock("prometheus.yml");
    expect(block).toContain("/etc/prometheus/stroem-logs-metrics-token");
    writeFileSync(file, block.replace("/etc/prometheus/stroem-logs-metrics-token", token));
    const r = await promtool(["check", "config", file]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
  });
});
