import { forwardRef } from "react";
import type { Due, Filters, Sort } from "../sync/view";
import { Choice } from "./Choice";

const STATUSES = [
  ["open", "Open"],
  ["pending", "Pending"],
  ["in_progress", "In progress"],
  ["completed", "Completed"],
  ["any", "All"],
] as const satisfies readonly (readonly [Filters["status"], string])[];
const PRIORITIES = [
  ["any", "Any"],
  ["urgent", "Urgent"],
  ["high", "High"],
  ["medium", "Medium"],
  ["low", "Low"],
] as const satisfies readonly (readonly [Filters["priority"], string])[];
const DUES = [
  ["any", "Any time"],
  ["overdue", "Overdue"],
  ["today", "Today"],
  ["upcoming", "Upcoming"],
] as const satisfies readonly (readonly [Due, string])[];
const SORTS = [
  ["due", "Due date"],
  ["priority", "Priority"],
  ["created", "Newest"],
  ["title", "Title"],
] as const satisfies readonly (readonly [Sort, string])[];

interface Props {
  filters: Filters;
  tags: string[];
  onChange: (filters: Filters) => void;
}

export const FilterBar = forwardRef<HTMLInputElement, Props>(function FilterBar(
  { filters, tags, onChange },
  search,
) {
  const set = <K extends keyof Filters>(key: K, value: Filters[K]) =>
    onChange({ ...filters, [key]: value });
  return (
    <div className="filters" role="group" aria-label="Filters">
      <label className="search">
        Search
        <input
          ref={search}
          type="search"
          value={filters.search}
          onChange={(e) => set("search", e.target.value)}
        />
      </label>
      <Choice label="Status" value={filters.status} options={STATUSES} onChange={(v) => set("status", v)} />
      <Choice label="Priority" value={filters.priority} options={PRIORITIES} onChange={(v) => set("priority", v)} />
      <Choice label="Due" value={filters.due} options={DUES} onChange={(v) => set("due", v)} />
      <Choice
        label="Tag"
        value={filters.tag}
        options={[["", "Any"], ...tags.map((tag) => [tag, `#${tag}`] as const)]}
        onChange={(v) => set("tag", v)}
      />
      <Choice label="Sort" value={filters.sort} options={SORTS} onChange={(v) => set("sort", v)} />
    </div>
  );
});
