// Times, durations and sizes as people read them. Every time the UI shows
// goes through here, so the whole UI reads one 24-hour clock, whatever the
// browser's locale would pick.

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** A time as a Date, from an ISO string or milliseconds since the epoch. */
const toDate = (t: string | number) => new Date(t);

/** `12:34:56.789` (local time), or `12:34:56` without `ms`. */
export function clock(t: string | number, ms = true): string {
  const d = toDate(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return ms ? `${hms}.${pad(d.getMilliseconds(), 3)}` : hms;
}

/** `2030-01-02 13:04:05` (local time). */
export function dateTime(t: string | number): string {
  const d = toDate(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(t, false)}`;
}

/**
 * Labels for a chart's time axis (`ticks` in seconds since the epoch, as
 * uPlot gives them): `13:04`, with seconds when a tick is not on the
 * minute, and the date (`01-02 13:04`) when the ticks span several days.
 */
export function timeTicks(ticks: number[]): string[] {
  const dates = ticks.map((s) => new Date(s * 1000));
  const day = (d: Date) => `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const days = new Set(dates.map(day)).size > 1;
  const seconds = dates.some((d) => d.getSeconds() !== 0 || d.getMilliseconds() !== 0);
  return dates.map((d) => {
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ""}`;
    return days ? `${day(d)} ${hm}` : hm;
  });
}

/**
 * A time typed on the 24-hour clock, as a local date-time value
 * (`2030-01-02T13:04:05`, what the trace filter keeps): `2030-01-02 13:04`,
 * `2030-01-02T13:04:05`, or only `13:04[:05]` for today. "" clears it
 * (gives ""); anything else is null. (The browsers' own date-time field
 * shows AM/PM in some locales, so the UI reads typed times itself.)
 */
export function parseDateTime(text: string, now = new Date()): string | null {
  const t = text.trim();
  if (t === "") return "";
  const m = /^(?:(\d{4})-(\d{2})-(\d{2})[ T])?(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (!m) return null;
  const [y, mo, d] = m[1] ? [+m[1], +m[2], +m[3]] : [now.getFullYear(), now.getMonth() + 1, now.getDate()];
  const [h, mi, se] = [+m[4], +m[5], m[6] ? +m[6] : 0];
  const date = new Date(y, mo - 1, d, h, mi, se);
  // Rejects 25:00 and 02-30 rather than rolling them over.
  if (date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d || date.getHours() !== h || date.getMinutes() !== mi) return null;
  return `${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(se)}`;
}

/** A local date-time value (`2030-01-02T13:04:05`) as typed: `2030-01-02 13:04:05`. */
export function showDateTime(value: string): string {
  return value.replace("T", " ");
}

/** "3 s ago", "5 min ago", or the date for older times. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return dateTime(t);
}

/** Time left until `iso`: "59 s", "4 min 10 s", "1 h 3 min", or "expired". */
export function countdown(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const left = Math.floor((Date.parse(iso) - now) / 1000);
  if (Number.isNaN(left)) return iso;
  if (left <= 0) return "expired";
  if (left < 60) return `${left} s`;
  if (left < 3600) return `${Math.floor(left / 60)} min ${left % 60} s`;
  if (left < 86400) return `${Math.floor(left / 3600)} h ${Math.floor((left % 3600) / 60)} min`;
  return `${Math.floor(left / 86400)} d ${Math.floor((left % 86400) / 3600)} h`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}
