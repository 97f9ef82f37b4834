import { describe, expect, it } from "vitest";
import { daysBetween, fromLocalInput, relativeDue, toLocalInput, tomorrowMorning } from "./time";

const now = new Date("2026-12-02T22:30:00Z"); // 23:30 in Berlin, 17:30 in New York

describe("due dates in the user's time zone", () => {
  it("counts days by the user's calendar, not UTC's", () => {
    const due = new Date("2026-12-02T23:30:00Z"); // 00:30 on the 3rd in Berlin
    expect(daysBetween(now, due, "Europe/Berlin")).toBe(1);
    expect(daysBetween(now, due, "America/New_York")).toBe(0);
  });

  it("labels relative to now", () => {
    expect(relativeDue("2026-12-02T23:30:00Z", now, "Europe/Berlin")).toBe("tomorrow 00:30");
    expect(relativeDue("2026-12-02T20:00:00Z", now, "America/New_York")).toBe("today 15:00");
    expect(relativeDue("2026-11-29T12:00:00Z", now, "UTC")).toBe("3 days ago");
    expect(relativeDue("2027-03-01T12:00:00Z", now, "UTC")).toBe("1 Mar 2027");
  });

  it("round-trips a datetime-local value through the zone, across a DST change", () => {
    expect(toLocalInput("2026-07-01T07:00:00Z", "Europe/Berlin")).toBe("2026-07-01T09:00");
    expect(fromLocalInput("2026-07-01T09:00", "Europe/Berlin")).toBe("2026-07-01T07:00:00Z");
    expect(fromLocalInput("2026-12-01T09:00", "Europe/Berlin")).toBe("2026-12-01T08:00:00Z");
  });

  it("snoozes until 09:00 tomorrow by the user's calendar, across a DST change", () => {
    expect(tomorrowMorning(now, "Europe/Berlin")).toBe("2026-12-03T08:00:00Z");
    expect(tomorrowMorning(now, "America/New_York")).toBe("2026-12-03T14:00:00Z");
    // 23:30 in Berlin on the day summer time ends: tomorrow is Monday, at +01:00.
    expect(tomorrowMorning(new Date("2026-10-25T22:30:00Z"), "Europe/Berlin")).toBe("2026-10-26T08:00:00Z");
    expect(tomorrowMorning(new Date("2026-03-28T12:00:00Z"), "Europe/Berlin")).toBe("2026-03-29T07:00:00Z");
  });
});
