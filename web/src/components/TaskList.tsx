import { useWindowVirtualizer } from "@tanstack/react-virtual";
import { type RefObject, useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import type { Task } from "../api/types";
import { TaskRow } from "./TaskRow";

// A row with one line of title and one of details; rows are measured once drawn, so this
// only places the ones not drawn yet.
const ROW_ESTIMATE_PX = 58;
// Rows drawn beyond each edge of the window, so a fast scroll or a j/k step shows no gap.
const OVERSCAN = 8;
const estimateSize = () => ROW_ESTIMATE_PX;

/** The callbacks stay the same from one render to the next, so drawn rows need not redraw. */
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

/** The tasks, of which only the rows in (or near) the window are in the page: the page
 * scrolls as if all were there, and a list of thousands costs what one screen does. */
export function TaskList({ tasks, selectedId, ...shown }: Props) {
  const list = useRef<HTMLUListElement>(null);
  const listTop = useListTop(list);
  // The same function while the tasks are the same: the virtualizer places every row
  // again (all 2,000) whenever it changes, which would be on every frame of a scroll.
  const getItemKey = useCallback((index: number) => tasks[index]?.id ?? index, [tasks]);
  const virtualizer = useWindowVirtualizer({
    count: tasks.length,
    estimateSize,
    getItemKey,
    overscan: OVERSCAN,
    scrollMargin: listTop,
  });
  useKeepSelectedInView(list, virtualizer.scrollToIndex, tasks, selectedId);

  if (tasks.length === 0) return <p className="empty">Nothing here.</p>;
  const rows = virtualizer.getVirtualItems();
  const first = rows[0];
  const last = rows.at(-1);
  // The rows not drawn are padding above and below the drawn ones, so those stay in the
  // list's normal flow: list semantics, row heights and the mobile layout as they were.
  const above = first ? first.start - listTop : 0;
  const below = last ? virtualizer.getTotalSize() - (last.end - listTop) : 0;
  return (
    <ul ref={list} className="tasks" aria-label="Tasks" style={{ paddingTop: above, paddingBottom: below }}>
      {rows.map(({ index }) => {
        const task = tasks[index];
        if (!task) return null;
        return (
          <TaskRow
            key={task.id}
            ref={virtualizer.measureElement}
            index={index}
            count={tasks.length}
            task={task}
            selected={task.id === selectedId}
            {...shown}
          />
        );
      })}
    </ul>
  );
}

/** Where the list starts in the page, kept as what is above it (quick add's preview, the
 * filters, an alert) grows and shrinks. */
function useListTop(list: RefObject<HTMLElement | null>): number {
  const [top, setTop] = useState(0);
  useLayoutEffect(() => {
    const measure = () => {
      if (list.current) setTop(list.current.getBoundingClientRect().top + window.scrollY);
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(document.body);
    return () => observer.disconnect();
  }, [list]);
  return top;
}

/** j/k may select a row not drawn yet: scroll it into view when the selection changes
 * (and not when a live change moves the selected row while the user looks elsewhere). The
 * virtualizer places it by the heights it knows, estimates for rows never drawn; once it
 * is drawn, the browser puts it exactly in view. */
function useKeepSelectedInView(
  list: RefObject<HTMLElement | null>,
  scrollToIndex: (index: number, options: { align: "auto" }) => void,
  tasks: Task[],
  selectedId: string | null,
): void {
  const shown = useRef<string | null>(null);
  useEffect(() => {
    if (selectedId === shown.current) return;
    shown.current = selectedId;
    const index = tasks.findIndex((t) => t.id === selectedId);
    if (index < 0) return;
    scrollToIndex(index, { align: "auto" });
    requestAnimationFrame(() =>
      list.current?.querySelector(`[data-index="${index}"]`)?.scrollIntoView({ block: "nearest" }),
    );
  }, [list, scrollToIndex, tasks, selectedId]);
}
