import { memo, type Ref } from "react";
import type { Task } from "../api/types";
import { isLocal } from "../sync/workspace";
import { absoluteDue, relativeDue } from "../time";

interface Props {
  ref?: Ref<HTMLLIElement>;
  /** Where the row is in the whole list, which the page holds only part of. */
  index: number;
  count: number;
  task: Task;
  selected: boolean;
  now: Date;
  timeZone: string;
  onSelect: (task: Task) => void;
  onToggle: (task: Task) => void;
  onEdit: (task: Task) => void;
  onRemove: (task: Task) => void;
}

/** Memoized: while the list scrolls, the rows that stay drawn keep their props and are not
 * drawn again. */
export const TaskRow = memo(function TaskRow(props: Props) {
  const { ref, index, count, task, selected, now, timeZone, onSelect, onToggle, onEdit, onRemove } = props;
  const done = task.status === "completed";
  const overdue = !done && task.due_at !== null && new Date(task.due_at) < now;
  return (
    <li
      ref={ref}
      data-index={index}
      aria-posinset={index + 1}
      aria-setsize={count}
      className={`task${selected ? " selected" : ""}${done ? " done" : ""}`}
      aria-current={selected || undefined}
      data-testid="task"
      data-task-id={task.id}
      onClick={() => onSelect(task)}
    >
      <input
        type="checkbox"
        checked={done}
        onChange={() => onToggle(task)}
        aria-label={`${done ? "Reopen" : "Complete"} ${task.title}`}
      />
      <div className="task-main">
        <span className="title">{task.title}</span>
        <span className="meta">
          {task.due_at && (
            <time
              dateTime={task.due_at}
              title={absoluteDue(task.due_at, timeZone)}
              className={overdue ? "overdue" : undefined}
            >
              {relativeDue(task.due_at, now, timeZone)}
            </time>
          )}
          {task.priority !== "medium" && <span className={`priority ${task.priority}`}>!{task.priority}</span>}
          {task.recurrence && <span title={task.recurrence.rrule}>repeats</span>}
          {task.tags.map((tag) => (
            <span key={tag} className="tag">
              #{tag}
            </span>
          ))}
        </span>
      </div>
      {/* A task added offline can be edited once the server has it. */}
      <button type="button" onClick={() => onEdit(task)} aria-label={`Edit ${task.title}`} disabled={isLocal(task)}>
        Edit
      </button>
      <button type="button" onClick={() => onRemove(task)} aria-label={`Delete ${task.title}`}>
        Delete
      </button>
    </li>
  );
});
