import { useEffect } from "react";

export interface Undoable {
  message: string;
  undo: () => void;
  /** What happens when the time to undo is up (a delete is sent only then). */
  done?: () => void;
}

const UNDO_MS = 5000;

export function UndoToast({ action, onGone }: { action: Undoable; onGone: () => void }) {
  useEffect(() => {
    const timer = setTimeout(() => {
      action.done?.();
      onGone();
    }, UNDO_MS);
    return () => clearTimeout(timer);
  }, [action, onGone]);
  return (
    <div className="toast" role="status">
      {action.message}
      <button
        type="button"
        onClick={() => {
          action.undo();
          onGone();
        }}
      >
        Undo
      </button>
    </div>
  );
}
