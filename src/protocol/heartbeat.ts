// The heartbeat's contract between the server and the shipper.

/**
 * The heartbeat's answer carries `recovery.stale_after` (ms) in this header, so a worker learns how often to
 * beat (a rule the server and the shipper share).
 */
export const STALE_AFTER_HEADER = "stroem-stale-after-ms";
