import { useEffect, useRef, useState } from "react";
import type { Task } from "../api/types";
import { TaskRow } from "./TaskRow";

const STEP = 50;

interface Props {
  tasks: Task[];
  selectedId: string | null;
  now: Date;
  timeZone: string;
  onSelect: (task: Task) => void;
  onToggle: (task: Task) => void;
  onEdit: (task: Task) => void;
  onRemove: (task: Task) => void;
}

/** The tasks, STEP more each time the end of the list scrolls into view. */
export function TaskList({ tasks, selectedId, onSelect, onToggle, onEdit, onRemove, ...shown }: Props) {
  const [limit, setLimit] = useState(STEP);
  const end = useRef<HTMLDivElement>(null);
  const selectedIndex = tasks.findIndex((t) => t.id === selectedId);
  const visible = Math.max(limit, selectedIndex + 1);

  useEffect(() => {
    const sentinel = end.current;
    if (!sentinel) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setLimit((n) => n + STEP);
    });
    observer.observe(sentinel);
    return () => observer.disconnect();
  }, []);

  if (tasks.length === 0) return <p className="empty">Nothing here.</p>;
  return (
    <>
      <ul className="tasks" aria-label="Tasks">
        {tasks.slice(0, visible).map((task) => (
          <TaskRow
            key={task.id}
            task={task}
            selected={task.id === selectedId}
            onSelect={() => onSelect(task)}
            onToggle={() => onToggle(task)}
            onEdit={() => onEdit(task)}
            onRemove={() => onRemove(task)}
            {...shown}
          />
        ))}
      </ul>
      <div ref={end} aria-hidden="true" className="list-end" />
    </>
  );
}
