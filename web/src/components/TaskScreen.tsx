import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Task, User } from "../api/types";
import { useNow, useShortcuts, useWatched } from "../hooks";
import { currentId } from "../sync/taskState";
import { allTags, defaultFilters, visibleTasks } from "../sync/view";
import { Workspace } from "../sync/workspace";
import { ConnectionState } from "./ConnectionState";
import { EditDialog } from "./EditDialog";
import { FilterBar } from "./FilterBar";
import { NotificationBell } from "./NotificationBell";
import { QuickAdd } from "./QuickAdd";
import { ShortcutHelp } from "./ShortcutHelp";
import { TaskList } from "./TaskList";
import { TimeZoneSetting } from "./TimeZoneSetting";
import { type Undoable, UndoToast } from "./UndoToast";

interface Props {
  user: User;
  onUser: (user: User) => void;
  onSignOut: () => void;
}

export function TaskScreen({ user, onUser, onSignOut }: Props) {
  const workspace = useWorkspace(user.id);
  const state = useWatched(workspace.store);
  const refused = useWatched(workspace.refused);
  const now = useNow();
  const [filters, setFilters] = useState(defaultFilters);
  const [selection, setSelection] = useState<string | null>(null);
  const [editing, setEditing] = useState<Task | null>(null);
  const [help, setHelp] = useState(false);
  const [undoable, setUndoable] = useState<Undoable | null>(null);
  const quickAdd = useRef<HTMLInputElement>(null);
  const search = useRef<HTMLInputElement>(null);

  const tz = user.timezone;
  const tasks = useMemo(
    () => visibleTasks(state.tasks.values(), filters, now, tz),
    [state.tasks, filters, now, tz],
  );
  const tags = useMemo(() => allTags(state.tasks.values()), [state.tasks]);
  const selectedId = useMemo(() => currentId(state.tasks, selection), [state.tasks, selection]);
  const selected = tasks.find((t) => t.id === selectedId) ?? null;

  const toggle = useCallback(
    (task: Task) => {
      if (task.status === "completed") {
        workspace.reopen(task);
        setUndoable({ message: `Reopened “${task.title}”`, undo: () => workspace.complete(task) });
      } else {
        workspace.complete(task);
        setUndoable({ message: `Completed “${task.title}”`, undo: () => workspace.reopen(task) });
      }
    },
    [workspace],
  );
  const remove = useCallback(
    (task: Task) => {
      workspace.remove(task);
      setUndoable({
        message: `Deleted “${task.title}”`,
        undo: () => workspace.undoRemove(task),
        done: () => workspace.confirmRemove(task),
      });
    },
    [workspace],
  );
  const select = useCallback((task: Task) => setSelection(task.id), []);
  const move = useCallback(
    (by: number) => {
      const at = tasks.findIndex((t) => t.id === selectedId);
      const next = tasks[Math.min(tasks.length - 1, Math.max(0, at + by))];
      if (next) setSelection(next.id);
    },
    [tasks, selectedId],
  );
  const shortcuts = useMemo(
    () => ({
      q: () => quickAdd.current?.focus(),
      "/": () => search.current?.focus(),
      j: () => move(1),
      k: () => move(-1),
      x: () => selected && toggle(selected),
      e: () => selected && setEditing(selected),
      "?": () => setHelp(true),
    }),
    [move, selected, toggle],
  );
  useShortcuts(shortcuts);

  async function signOut() {
    const unsent = await workspace.sendPending();
    const lose = unsent === 1 ? "1 change not yet sent" : `${unsent} changes not yet sent`;
    if (unsent > 0 && !confirm(`Signing out deletes ${lose} from this device. Sign out anyway?`)) {
      return;
    }
    await workspace.forget();
    onSignOut();
  }

  return (
    <div className="app">
      <header>
        <h1>todo</h1>
        <ConnectionState workspace={workspace} />
        <NotificationBell workspace={workspace} timeZone={tz} />
        <TimeZoneSetting user={user} onChange={onUser} />
        <button type="button" onClick={() => setHelp(true)} aria-label="Keyboard shortcuts">
          ?
        </button>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main>
        <QuickAdd ref={quickAdd} timeZone={tz} onAdd={(text) => workspace.add(text)} />
        <FilterBar ref={search} filters={filters} tags={tags} onChange={setFilters} />
        {refused && (
          <p role="alert" className="error">
            {refused}
          </p>
        )}
        <TaskList
          tasks={tasks}
          selectedId={selectedId}
          now={now}
          timeZone={tz}
          onSelect={select}
          onToggle={toggle}
          onEdit={setEditing}
          onRemove={remove}
        />
      </main>
      {editing && (
        <EditDialog task={editing} timeZone={tz} workspace={workspace} onClose={() => setEditing(null)} />
      )}
      {help && <ShortcutHelp onClose={() => setHelp(false)} />}
      {undoable && <UndoToast key={undoable.message} action={undoable} onGone={() => setUndoable(null)} />}
    </div>
  );
}

function useWorkspace(userId: string): Workspace {
  const workspace = useMemo(() => new Workspace(userId), [userId]);
  useEffect(() => {
    void workspace.start();
    return () => workspace.stop();
  }, [workspace]);
  return workspace;
}
