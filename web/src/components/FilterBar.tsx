import { forwardRef } from "react";
import type { Due, Filters, Sort } from "../sync/view";

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
      <label>
        Status
        <select
          value={filters.status}
          onChange={(e) => set("status", e.target.value as Filters["status"])}
        >
          <option value="open">Open</option>
          <option value="pending">Pending</option>
          <option value="in_progress">In progress</option>
          <option value="completed">Completed</option>
          <option value="any">All</option>
        </select>
      </label>
      <label>
        Priority
        <select
          value={filters.priority}
          onChange={(e) => set("priority", e.target.value as Filters["priority"])}
        >
          <option value="any">Any</option>
          <option value="urgent">Urgent</option>
          <option value="high">High</option>
          <option value="medium">Medium</option>
          <option value="low">Low</option>
        </select>
      </label>
      <label>
        Due
        <select value={filters.due} onChange={(e) => set("due", e.target.value as Due)}>
          <option value="any">Any time</option>
          <option value="overdue">Overdue</option>
          <option value="today">Today</option>
          <option value="upcoming">Upcoming</option>
        </select>
      </label>
      <label>
        Tag
        <select value={filters.tag} onChange={(e) => set("tag", e.target.value)}>
          <option value="">Any</option>
          {tags.map((tag) => (
            <option key={tag} value={tag}>
              #{tag}
            </option>
          ))}
        </select>
      </label>
      <label>
        Sort
        <select value={filters.sort} onChange={(e) => set("sort", e.target.value as Sort)}>
          <option value="due">Due date</option>
          <option value="priority">Priority</option>
          <option value="created">Newest</option>
          <option value="title">Title</option>
        </select>
      </label>
    </div>
  );
});
