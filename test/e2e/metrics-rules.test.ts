// The README's Prometheus examples hold: the alert rules and the scrape config pass promtool, name only
// metrics we export, and fire on the series they are written for (promtool test rules).
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
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
    expect(r.stdout).toContain("SUCCESS: 12 rules found");
  });

  test("every stroem_logs_ and process_ metric the rules name is exported by a server with an archive", async () => {
    using archive = tempDir();
    await using s = await startTestServer({
      log_storage: { archive: { type: "local", path: archive.path } },
    });
    const exposition = await (await s.fetch("/metrics")).text();
    const families = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const named = [...readmeBlock("stroem-logs.rules.yml").matchAll(/\b((?:stroem_logs|process)_\w+)/g)].map(
      (m) => m[1]!.replace(/_(bucket|sum|count)$/, ""),
    );
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((n) => !families.has(n))).toEqual([]);
  });

  test("the disk, archive and refusal alerts fire on the series they are for, and stay quiet on healthy ones", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "stroem-logs.rules.yml"), readmeBlock("stroem-logs.rules.yml"));
    const at = (series: string, values: string) => ({ series, values });
    const tests = {
      rule_files: ["stroem-logs.rules.yml"],
      evaluation_interval: "1m",
      tests: [
        {
          interval: "1m",
          input_series: [
            // The disk fills at minute 5 and stays full.
            at('stroem_logs_storage_failing{instance="a",job="stroem-logs"}', "0x4 1x20"),
            at('stroem_logs_storage_disk_full{instance="a",job="stroem-logs"}', "0x4 1x20"),
            // disk_full refusals from minute 5, about one a second.
            at(
              'stroem_logs_push_refusals_total{instance="a",job="stroem-logs",code="disk_full"}',
              "0x4 60+60x20",
            ),
            // One archive keeps failing; uploads stop at minute 20.
            at('stroem_logs_archive_queue_jobs{instance="a",job="stroem-logs",state="retrying"}', "1x100"),
            at('stroem_logs_archive_uploads_total{instance="a",job="stroem-logs"}', "0+1x20 20x80"),
          ],
          alert_rule_test: [
            { eval_time: "5m", alertname: "StroemLogsLocalWritesFailing", exp_alerts: [] },
            {
              eval_time: "8m",
              alertname: "StroemLogsLocalWritesFailing",
              exp_alerts: [
                {
                  exp_labels: { severity: "page", instance: "a" },
                  exp_annotations: {
                    summary:
                      "stroem-logs on a cannot write to local_dir: pushes are refused (stroem_logs_storage_disk_full says whether it is full)",
                  },
                },
              ],
            },
            {
              eval_time: "20m",
              alertname: "StroemLogsPushesRefused",
              exp_alerts: [
                {
                  exp_labels: { severity: "ticket", instance: "a", code: "disk_full" },
                  exp_annotations: { summary: "stroem-logs on a refuses pushes with disk_full (1/s)" },
                },
              ],
            },
            // No upload for 30 minutes from minute 51, and so for 30 more: it fires from minute 81.
            { eval_time: "75m", alertname: "StroemLogsArchiveRetrying", exp_alerts: [] },
            {
              eval_time: "90m",
              alertname: "StroemLogsArchiveRetrying",
              exp_alerts: [
                {
                  exp_labels: { severity: "ticket", instance: "a", job: "stroem-logs", state: "retrying" },
                  exp_annotations: {
                    summary: "stroem-logs on a: 1 archives failing, none uploaded for 30 minutes",
                  },
                },
              ],
            },
          ],
        },
        {
          // Healthy: writes work, nothing refused, archives retry but uploads go on.
          interval: "1m",
          input_series: [
            at('stroem_logs_storage_failing{instance="a",job="stroem-logs"}', "0x60"),
            at('stroem_logs_push_refusals_total{instance="a",job="stroem-logs",code="disk_full"}', "3x60"),
            at('stroem_logs_archive_queue_jobs{instance="a",job="stroem-logs",state="retrying"}', "1x60"),
            at('stroem_logs_archive_uploads_total{instance="a",job="stroem-logs"}', "0+1x60"),
            at('stroem_logs_archive_target_reachable{instance="a",job="stroem-logs"}', "1x60"),
          ],
          alert_rule_test: [
            "StroemLogsLocalWritesFailing",
            "StroemLogsPushesRefused",
            "StroemLogsArchiveRetrying",
            "StroemLogsArchiveTargetUnreachable",
          ].map((alertname) => ({ eval_time: "60m", alertname, exp_alerts: [] })),
        },
      ],
    };
    const file = join(dir.path, "tests.yml");
    writeFileSync(file, stringify(tests));
    const r = await promtool(["test", "rules", file]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
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
