// Test support: the registry and a job's lifecycle over a real SQLite state and real files, with an injected clock.
import { join } from "node:path";
import { createEvents, type EventMap, type EventName, type Events } from "../../src/events.ts";
import { createCap } from "../../src/jobs/cap.ts";
import { createLifecycle } from "../../src/jobs/lifecycle.ts";
import { createRegistry, type IngestMasks } from "../../src/jobs/registry.ts";
import { type Logger, silentLogger } from "../../src/log.ts";
import { createLogStore } from "../../src/logs/store.ts";
import { openSqliteState } from "../../src/state/sqlite/open.ts";

export interface JobsSetup {
  dir: string;
  state: ReturnType<typeof openSqliteState>;
  store: ReturnType<typeof createLogStore>;
  events: Events;
  registry: ReturnType<typeof createRegistry>;
  lifecycle: ReturnType<typeof createLifecycle>;
  cap: ReturnType<typeof createCap> | null;
  /** Everything emitted so far, in order. */
  emitted: Array<{ name: EventName; event: unknown }>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function setupJobs(
  dir: string,
  opts: {
    clock?: () => number;
    maxLineBytes?: number;
    maxJobBytes?: number;
    log?: Logger;
    masks?: IngestMasks;
  } = {},
): Promise<JobsSetup> {
  const log = opts.log ?? silentLogger;
  const state = openSqliteState(join(dir, "state.db"));
  const store = createLogStore({ dir, maxOpenFiles: 8, fsync: false });
  const events = createEvents(log);
  const emitted: JobsSetup["emitted"] = [];
  const record = events.emit.bind(events);
  events.emit = <K extends EventName>(name: K, event: EventMap[K]) => {
    emitted.push({ name, event });
    record(name, event);
  };
  const cap =
    opts.maxJobBytes === undefined
      ? null
      : createCap({ caps: state.caps, store, maxJobBytes: opts.maxJobBytes, known: await state.caps.ids() });
  const clock = opts.clock ?? Date.now;
  const registry = createRegistry({
    state,
    store,
    events,
    cap,
    maxLineBytes: opts.maxLineBytes ?? 1 << 20,
    clock,
    log,
    masks: opts.masks ?? null,
  });
  const lifecycle = createLifecycle({ registry, jobs: state.jobs, store, events, cap, clock, log });
  return {
    dir,
    state,
    store,
    events,
    registry,
    lifecycle,
    cap,
    emitted,
    async [Symbol.asyncDispose]() {
      await lifecycle.idle();
      await registry.idle();
      store.closeAll();
      await state.close();
    },
  };
}
