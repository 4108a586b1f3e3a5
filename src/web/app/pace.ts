// How often the log pane redraws while lines pour in: as often as a person can see, but never so often that
// drawing takes over the page (on a busy machine one redraw of a screen of new rows costs tens of ms).

/** Shortest gap between redraws of arriving lines (~30 a second). */
export const MIN_GAP = 33;
/** Longest gap: the view stays well inside a quarter of a second behind the server. */
export const MAX_GAP = 120;

/** The gap before the next redraw: four times what the last one took, so redraws use at most a quarter of the main thread. */
export function redrawGap(lastCost: number): number {
  return Math.min(MAX_GAP, Math.max(MIN_GAP, Math.round(4 * lastCost)));
}

/**
 * Calls `done` once the current frame has been drawn: called in an animation frame, a message posted now is
 * handled right after that frame's style, layout and paint.
 */
export function afterFrame(done: () => void): void {
  const ch = new MessageChannel();
  ch.port1.onmessage = () => {
    ch.port1.close();
    done();
  };
  ch.port2.postMessage(null);
}
