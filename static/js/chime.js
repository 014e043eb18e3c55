// The new-order ring: a short two-tone chime generated with WebAudio (no sound files).

let context = null;

function audio() {
  if (!context) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    context = new Context();
  }
  return context;
}

/** True when the browser lets the page make sound now. */
export function soundAllowed() {
  const ctx = audio();
  return Boolean(ctx) && ctx.state === "running";
}

/** Try to unlock sound (browsers allow it after a click or key press). */
export async function unlockSound() {
  const ctx = audio();
  if (ctx && ctx.state !== "running") {
    try {
      await ctx.resume();
    } catch {
      // still blocked: the page keeps showing the visual alert and the unlock button
    }
  }
  return soundAllowed();
}

/** Play the chime three times; false when the browser does not let the page make sound. */
export function ring() {
  const ctx = audio();
  if (!ctx) return false;
  if (ctx.state !== "running") {
    ctx.resume().catch(() => {});
    return false;
  }
  const start = ctx.currentTime + 0.05;
  for (let i = 0; i < 3; i += 1) {
    for (const [offset, freq] of [[0, 880], [0.18, 1318.5]]) {
      const at = start + i * 0.7 + offset;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.35);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.4);
    }
  }
  return true;
}
